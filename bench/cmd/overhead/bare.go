package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/bench/internal/bare"
)

// serveBare runs the bare server on stdio or on a loopback HTTP port (the
// chosen address is written to stderr as "listening <addr>") until stdin
// closes or a signal arrives.
func serveBare(mode, target, key string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s := bare.NewServer(target, key)
	switch mode {
	case "stdio":
		err := server.NewStdioServer(s).Listen(ctx, os.Stdin, os.Stdout)
		if err == nil || err == io.EOF || ctx.Err() != nil {
			return nil
		}
		return err
	case "http":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		h := server.NewStreamableHTTPServer(s)
		mux := http.NewServeMux()
		mux.Handle("/mcp", h)
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		fmt.Fprintf(os.Stderr, "listening %s\n", ln.Addr())
		go func() {
			// The parent ends us by closing stdin, as for stdio.
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop()
		}()
		go func() { _ = srv.Serve(ln) }()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Shutdown(sctx)
		return srv.Shutdown(sctx)
	default:
		return fmt.Errorf("-serve-bare: unknown mode %q (stdio or http)", mode)
	}
}
