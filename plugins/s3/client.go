package s3

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Environment variables that hold the credentials (the names the AWS tools
// use, so one environment serves both).
const (
	EnvAccessKey = "AWS_ACCESS_KEY_ID"
	EnvSecretKey = "AWS_SECRET_ACCESS_KEY"
)

// maxRetries bounds how often one S3 request is tried after a transient
// failure (a refused connection, a 5xx, a throttling reply). Between tries
// minio-go waits a random part (full jitter) of 200 ms doubling up to 1 s, so
// a request gives up after at most about 8 s (4 s on average): long enough to
// ride out a restart of a server process, short enough that a checkpoint
// against a store that stays down fails (and the next one tries again)
// instead of hanging.
const maxRetries = 10

// Conn says how to reach an S3 endpoint.
type Conn struct {
	// Endpoint is host:port, without scheme (e.g. "127.0.0.1:9000" or
	// "s3.eu-west-1.amazonaws.com").
	Endpoint string
	// Insecure uses plain http instead of https.
	Insecure bool
	// Region is the bucket's region; empty lets the client discover it.
	Region string
	// AccessKey and SecretKey are the credentials; empty takes them from
	// EnvAccessKey and EnvSecretKey.
	AccessKey, SecretKey string
}

// client returns a minio-go client for c.
func (c Conn) client() (*minio.Client, error) {
	if c.Endpoint == "" {
		return nil, errors.New("endpoint is empty")
	}
	if strings.Contains(c.Endpoint, "://") || strings.Contains(c.Endpoint, "/") {
		return nil, fmt.Errorf("endpoint %q: want host:port without a scheme or path (use insecure for http)", c.Endpoint)
	}
	ak, sk := c.AccessKey, c.SecretKey
	if ak == "" {
		ak = os.Getenv(EnvAccessKey)
	}
	if sk == "" {
		sk = os.Getenv(EnvSecretKey)
	}
	if ak == "" || sk == "" {
		return nil, fmt.Errorf("no credentials: set %s and %s", EnvAccessKey, EnvSecretKey)
	}
	return minio.New(c.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(ak, sk, ""),
		Secure:     !c.Insecure,
		Region:     c.Region,
		MaxRetries: maxRetries,
	})
}

// ParseURL splits "s3://bucket/prefix" into the bucket and the key prefix,
// which is empty or ends in "/".
func ParseURL(s string) (bucket, prefix string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", err
	}
	if u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", "", fmt.Errorf("%q is not s3://BUCKET or s3://BUCKET/PREFIX", s)
	}
	if err := checkBucket(u.Host); err != nil {
		return "", "", fmt.Errorf("%q: %w", s, err)
	}
	prefix = strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	return u.Host, prefix, nil
}

// checkBucket applies the S3 bucket naming rules that matter for a typo: 3 to
// 63 characters, lower-case letters, digits, '.' and '-'.
func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("bucket %q: a bucket name has 3 to 63 characters", b)
	}
	for _, c := range []byte(b) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return fmt.Errorf("bucket %q has %q; a bucket name has lower-case letters, digits, '.' and '-'", b, c)
		}
	}
	return nil
}

// isNotFound reports whether err is S3's answer for a missing key or upload.
func isNotFound(err error, code string) bool {
	return minio.ToErrorResponse(err).Code == code
}
