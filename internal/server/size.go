package server

import (
	"errors"
	"strconv"
	"strings"
)

// ByteSize is a size in bytes, and a flag.Value for sizes such as 1MiB, 512KiB, 2MB or 65536.
type ByteSize int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", 1},
}

func (b *ByteSize) String() string {
	n := int64(*b)
	for _, u := range sizeUnits[:3] {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func (b *ByteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("want a size such as 1MiB, 512KiB or 65536")
	}
	v := n * mult
	// Under 1 KiB not even an initialize request fits; over 64 MiB defeats
	// the point of the limit (the largest query schema accepts is 256 KiB).
	if n < 0 || v < 1<<10 || v > 64<<20 {
		return errors.New("want a size from 1KiB to 64MiB")
	}
	*b = ByteSize(v)
	return nil
}
