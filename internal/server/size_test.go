package server

import "testing"

// TestByteSize covers the --max-body-bytes value syntax.
func TestByteSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantStr string
		wantErr bool
	}{
		{in: "1MiB", want: 1 << 20, wantStr: "1MiB"},
		{in: "512KiB", want: 512 << 10, wantStr: "512KiB"},
		{in: "65536", want: 65536, wantStr: "64KiB"},
		{in: "2MB", want: 2_000_000, wantStr: "2000000"},
		{in: "1500B", want: 1500, wantStr: "1500"},
		{in: " 4 KiB ", want: 4096, wantStr: "4KiB"},
		{in: "1023", wantErr: true},
		{in: "65MiB", wantErr: true},
		{in: "-1MiB", wantErr: true},
		{in: "lots", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var b ByteSize
			err := b.Set(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Set(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if int64(b) != tc.want || b.String() != tc.wantStr {
				t.Errorf("Set(%q) = %d (%s), want %d (%s)", tc.in, int64(b), b.String(), tc.want, tc.wantStr)
			}
		})
	}
}
