package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/weirstream/weir/plugins/localfs"
	weirnats "github.com/weirstream/weir/plugins/nats"
	"github.com/weirstream/weir/plugins/nats/embedded"
	"github.com/weirstream/weir/plugins/nats/natsobj"
	"github.com/weirstream/weir/runtime"
)

// Where `weir server --catalog` keeps module and job records.
const (
	catalogLocal = "local" // DATA_DIR/catalog
	catalogNATS  = "nats"  // a JetStream object store on the -nats server
)

// openedCatalog is the server's catalog and what it runs on.
type openedCatalog struct {
	store runtime.SnapshotStore
	// natsURL is the NATS server the catalog is on when it started an
	// embedded one ("" otherwise): the ingest uses the same one.
	natsURL string
	close   func()
}

// openCatalog opens the catalog of kind: the local directory, or the object
// store natsobj.DefaultBucket on the NATS server at natsURL (started
// embedded under DATA_DIR/nats when natsURL is "").
func openCatalog(ctx context.Context, kind, natsURL, dataDir string) (*openedCatalog, error) {
	switch kind {
	case catalogLocal:
		s, err := localfs.New(filepath.Join(dataDir, "catalog"))
		if err != nil {
			return nil, err
		}
		return &openedCatalog{store: s, close: func() {}}, nil
	case catalogNATS:
	default:
		return nil, fmt.Errorf("%w: -catalog %q: want %s or %s", errUsage, kind, catalogLocal, catalogNATS)
	}
	c := &openedCatalog{close: func() {}}
	url := natsURL
	if url == "" {
		e, err := embedded.Start(embedded.Options{StoreDir: filepath.Join(dataDir, "nats"), Port: -1})
		if err != nil {
			return nil, fmt.Errorf("catalog: %w", err)
		}
		url, c.natsURL, c.close = e.URL(), e.URL(), e.Stop
	}
	nc, js, err := weirnats.Connect(url, "weir catalog")
	if err != nil {
		c.close()
		return nil, fmt.Errorf("catalog: %w", err)
	}
	stop := c.close
	c.close = func() { nc.Close(); stop() }
	if c.store, err = natsobj.Open(ctx, js, natsobj.Options{}); err != nil {
		c.close()
		return nil, fmt.Errorf("catalog: %w", err)
	}
	return c, nil
}
