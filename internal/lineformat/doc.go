// Package lineformat is the record encoding of Weir's file-writing sinks (the
// local file sink and the S3 sink): one line per record, in format "value",
// "keyvalue" or "json". It lives here, not in a plugin, because a plugin may
// not import another plugin, and both sinks must write byte-identical lines so
// that output moves between them unchanged. See plugins/file's doc for the
// formats as users see them.
package lineformat
