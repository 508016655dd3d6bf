package pebble

import (
	"fmt"
	"log/slog"
	"testing"

	pebbledb "github.com/cockroachdb/pebble/v2"
)

func TestScratchMetrics(t *testing.T) {
	db, err := pebbledb.Open(t.TempDir(), dbOptions(slog.Default(), false))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 100000 {
		db.Set(fmt.Appendf(nil, "key%08d", i), []byte("12345678"), pebbledb.NoSync)
	}
	db.Flush()
	for i := range 100000 {
		_, c, err := db.Get(fmt.Appendf(nil, "absent%08d", i))
		if err == nil {
			c.Close()
		}
		_, c, err = db.Get(fmt.Appendf(nil, "key%08d", i%1000))
		if err == nil {
			c.Close()
		}
	}
	m := db.Metrics()
	fmt.Printf("block cache: %+v\nfilter: %+v\n", m.BlockCache, m.Filter)
}
