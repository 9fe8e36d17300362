package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulkguard/bulkguard/backup"
	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/sandbox"
)

// BenchmarkBackup measures what the backup before a delete costs on the sandbox
// (docs/close-backup.md): the id fetch the guard makes (one /data/search/ page per 200 leads),
// the export, its status polls and the download, then the check of every id. It reports the
// Close requests (the download link counts as one), the file's size and the time per backup of
// all the organization's leads, with their contacts, opportunities, tasks and activities.
// README.md's backup figures come from
//
//	go test -run '^$' -bench BenchmarkBackup -benchtime 3x ./bench/
func BenchmarkBackup(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("leads=%d", n), func(b *testing.B) {
			sb, err := sandbox.New(sandbox.Options{Seed: 1, Leads: n})
			if err != nil {
				b.Fatal(err)
			}
			defer sb.Close()
			count := &counter{next: sb}
			hs := httptest.NewServer(count)
			defer hs.Close()
			cl, err := closeapi.New(closeapi.Options{BaseURL: hs.URL + "/api/v1", APIKey: sb.APIKey(), Version: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			query, err := json.Marshal(map[string]any{"type": "and", "queries": []any{map[string]any{"type": "object_type", "object_type": "lead"}}})
			if err != nil {
				b.Fatal(err)
			}
			store, err := backup.Open(filepath.Join(b.TempDir(), "backups"))
			if err != nil {
				b.Fatal(err)
			}
			var requests, bytes int64
			count.take()
			b.ResetTimer()
			for range b.N {
				items, err := cl.Sample(context.Background(), query, nil, "lead", n)
				if err != nil {
					b.Fatal(err)
				}
				ids := make([]string, len(items))
				for i, it := range items {
					ids[i] = it.ID
				}
				limit := n
				m, err := store.Take(context.Background(), cl, backup.Request{ObjectType: "lead", SQuery: query, ResultsLimit: &limit, IDs: ids})
				if err != nil {
					b.Fatal(err)
				}
				bytes += m.Bytes
				for _, r := range count.take() {
					if strings.Contains(r, "/api/v1/") || strings.Contains(r, "download") {
						requests++
					}
				}
			}
			b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
			b.ReportMetric(float64(bytes)/float64(b.N)/1e6, "MB/op")
		})
	}
}
