package embedded

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// embeddedStartTimeout bounds how long an embedded server may take to accept
// connections (JetStream recovers its store first).
const embeddedStartTimeout = 30 * time.Second

// Options configure an in-process NATS server with JetStream.
type Options struct {
	// StoreDir is JetStream's store directory (required): streams survive a
	// restart of the server on the same directory.
	StoreDir string
	// Host and Port to listen on; Port -1 picks a free one. Default Host is
	// 127.0.0.1: the embedded server is for this machine only.
	Host string
	Port int
}

// Server is a NATS server with JetStream running in this process: what
// `weir server` starts when no external NATS is configured, and what the
// tests run against (package natstest). Its methods are not safe for
// concurrent use.
type Server struct {
	opts Options
	srv  *server.Server
}

// Start starts an in-process server and waits until it accepts
// connections.
func Start(opts Options) (*Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("embedded nats: StoreDir is required")
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	e := &Server{opts: opts}
	if err := e.start(); err != nil {
		return nil, err
	}
	// NB: keep the port picked for Port -1, so that a restart listens where
	// clients reconnect to.
	if a, ok := e.srv.Addr().(*net.TCPAddr); ok {
		e.opts.Port = a.Port
	}
	return e, nil
}

func (e *Server) start() error {
	srv, err := server.NewServer(&server.Options{
		Host:      e.opts.Host,
		Port:      e.opts.Port,
		JetStream: true,
		StoreDir:  e.opts.StoreDir,
		NoSigs:    true, // the process's signals belong to its owner
		NoLog:     true,
	})
	if err != nil {
		return fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(embeddedStartTimeout) {
		srv.Shutdown()
		return fmt.Errorf("embedded nats: not accepting connections on %s:%d after %v", e.opts.Host, e.opts.Port, embeddedStartTimeout)
	}
	e.srv = srv
	return nil
}

// URL is the server's client URL, nats://host:port.
func (e *Server) URL() string { return fmt.Sprintf("nats://%s:%d", e.opts.Host, e.opts.Port) }

// Stop shuts the server down (clients see the connection close) and waits
// until it has. Streams stay in StoreDir.
func (e *Server) Stop() {
	if e.srv == nil {
		return
	}
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.srv = nil
}

// Restart starts a stopped server again on the same address and store.
func (e *Server) Restart() error {
	if e.srv != nil {
		return errors.New("embedded nats: Restart of a running server")
	}
	return e.start()
}
