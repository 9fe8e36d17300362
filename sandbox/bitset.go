package sandbox

import "math/bits"

// bitset is a set of object indexes within one table. Query evaluation works
// on whole sets (one per node) rather than object by object: every condition
// is a tight loop over a column, and and/or/negate are word-wise operations,
// which is what keeps a count over 100,000 leads in the low milliseconds.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)>>6) }

func (b bitset) set(i int)      { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) has(i int) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }

func (b bitset) clone() bitset { return append(bitset(nil), b...) }

func (b bitset) and(o bitset) {
	for i := range b {
		b[i] &= o[i]
	}
}

func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}

// andNot removes o from b.
func (b bitset) andNot(o bitset) {
	for i := range b {
		b[i] &^= o[i]
	}
}

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// forEach calls fn for every member in increasing order.
func (b bitset) forEach(fn func(i int)) {
	for wi, w := range b {
		for w != 0 {
			t := bits.TrailingZeros64(w)
			fn(wi<<6 | t)
			w &= w - 1
		}
	}
}

// indexes lists the members in increasing order.
func (b bitset) indexes() []int32 {
	out := make([]int32, 0, b.count())
	b.forEach(func(i int) { out = append(out, int32(i)) })
	return out
}
