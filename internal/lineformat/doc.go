// Package lineformat is what Weir's file-writing sinks (the local file sink
// and the S3 sink) share: the record encoding, one line per record in format
// "value", "keyvalue" or "json", and the names of committed parts,
// <prefix>-<checkpoint>-<subtask>. It lives here, not in a plugin, because a
// plugin may not import another plugin, and both sinks must write
// byte-identical lines and names so that output moves between them unchanged.
// See plugins/file's doc for the formats as users see them.
package lineformat
