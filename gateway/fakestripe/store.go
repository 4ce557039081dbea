package fakestripe

import (
	"cmp"
	"slices"
	"sort"
)

// This file holds the compact, pointer-free storage primitives used by
// Server: a chunked byte arena for strings, an open-addressing hash index of
// int32 element numbers, and a lazily sorted "timeline" of element numbers
// ordered by (created, insertion order).

// sref refers to a string stored in an arena: the arena offset in the upper
// 48 bits and the length in the lower 16 bits. The zero sref is "".
type sref uint64

const (
	chunkBits   = 20 // 1 MiB arena chunks
	chunkSize   = 1 << chunkBits
	maxStrLen   = 1<<16 - 1
	noElem      = int32(-1)
	maxElements = 1<<31 - 2
)

// arena stores immutable strings back to back in large byte chunks so that
// the per-object structs stay free of pointers (cheap for the GC) and small.
type arena struct {
	chunks [][]byte
}

// put copies s into the arena. len(s) must be at most maxStrLen.
func (a *arena) put(s string) sref {
	if s == "" {
		return 0
	}
	last := len(a.chunks) - 1
	if last < 0 || len(a.chunks[last])+len(s) > cap(a.chunks[last]) {
		a.chunks = append(a.chunks, make([]byte, 0, chunkSize))
		last++
	}
	c := a.chunks[last]
	off := uint64(last)<<chunkBits | uint64(len(c))
	a.chunks[last] = append(c, s...)
	return sref(off<<16 | uint64(len(s)))
}

// get returns the bytes of r. The result must not be modified.
func (a *arena) get(r sref) []byte {
	n := uint64(r) & 0xffff
	if n == 0 {
		return nil
	}
	off := uint64(r) >> 16
	c := a.chunks[off>>chunkBits]
	o := off & (chunkSize - 1)
	return c[o : o+n : o+n]
}

// str returns r as a newly allocated string.
func (a *arena) str(r sref) string { return string(a.get(r)) }

// eq reports whether r holds s, without allocating.
func (a *arena) eq(r sref, s string) bool { return string(a.get(r)) == s }

// hashOf is FNV-1a with a final avalanche step.
func hashOf[T ~string | ~[]byte](s T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// hindex is an open-addressing (linear probing) hash table of element
// numbers. Keys are not stored: callers supply an equality test. A slot holds
// the low 32 bits of the key's hash in its upper half and element+1 in its
// lower half (0 means empty), so that a probe of a non-matching slot is
// almost always rejected without touching the element or the arena, and
// growing never needs the keys. The table size need not be a power of two:
// the home slot is (hash32 * size) >> 32. The load factor stays at or below
// 3/4 and the table grows by at least 5/4, so bulk loads can size it tightly.
type hindex struct {
	slots []uint64
	n     int
}

func (h *hindex) home(h32 uint64) uint64 { return (h32 * uint64(len(h.slots))) >> 32 }

// reserve makes room for extra more insertions without further growth.
func (h *hindex) reserve(extra int) {
	need := h.n + extra
	if need*4 <= len(h.slots)*3 {
		return
	}
	size := max(need*4/3+1, len(h.slots)*5/4, 16)
	old := h.slots
	h.slots = make([]uint64, size)
	for _, v := range old {
		if v == 0 {
			continue
		}
		j := h.home(v >> 32)
		for h.slots[j] != 0 {
			if j++; j == uint64(size) {
				j = 0
			}
		}
		h.slots[j] = v
	}
}

// find returns the element whose key matches (eq) together with its slot, or
// noElem and the empty slot where such an element would be inserted.
func (h *hindex) find(hash uint64, eq func(int32) bool) (slot int, elem int32) {
	if len(h.slots) == 0 {
		return -1, noElem
	}
	hi := hash & 0xffffffff
	size := uint64(len(h.slots))
	for j := h.home(hi); ; {
		v := h.slots[j]
		if v == 0 {
			return int(j), noElem
		}
		if v>>32 == hi {
			if e := int32(uint32(v)) - 1; eq(e) {
				return int(j), e
			}
		}
		if j++; j == size {
			j = 0
		}
	}
}

// set stores e, whose key hashes to hash, in slot (obtained from find after
// reserve). wasEmpty tells whether the slot was empty (a new key) or is
// being overwritten.
func (h *hindex) set(slot int, e int32, hash uint64, wasEmpty bool) {
	h.slots[slot] = (hash&0xffffffff)<<32 | uint64(uint32(e+1))
	if wasEmpty {
		h.n++
	}
}

// timeline keeps element numbers ordered ascending by (created, element
// number). New elements are appended unsorted and merged in lazily by sort.
type timeline struct {
	order   []int32
	sortedN int
}

func (t *timeline) add(e int32)     { t.order = append(t.order, e) }
func (t *timeline) dirty() bool     { return t.sortedN < len(t.order) }
func (t *timeline) grow(extra int)  { t.order = growCap(t.order, extra) }
func (t *timeline) sorted() []int32 { return t.order[:t.sortedN] }

// keyLess orders by created time, then by element number (insertion order).
func keyLess(ca int64, a int32, cb int64, b int32) bool {
	if ca != cb {
		return ca < cb
	}
	return a < b
}

// sort brings the whole order into ascending (created, element) order. The
// unsorted tail is sorted on its own and then appended (the common case of
// chronological inserts) or merged in O(n).
func (t *timeline) sort(created func(int32) int64) {
	if !t.dirty() {
		return
	}
	tail := t.order[t.sortedN:]
	slices.SortFunc(tail, func(a, b int32) int {
		if c := cmp.Compare(created(a), created(b)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	head := t.order[:t.sortedN]
	if len(head) > 0 {
		l, f := head[len(head)-1], tail[0]
		if !keyLess(created(l), l, created(f), f) {
			merged := make([]int32, 0, len(t.order))
			i, j := 0, 0
			for i < len(head) && j < len(tail) {
				a, b := head[i], tail[j]
				if keyLess(created(a), a, created(b), b) {
					merged = append(merged, a)
					i++
				} else {
					merged = append(merged, b)
					j++
				}
			}
			merged = append(merged, head[i:]...)
			merged = append(merged, tail[j:]...)
			t.order = merged
		}
	}
	t.sortedN = len(t.order)
}

// window returns the sorted elements whose created time lies in [lo, hi].
// It must only be called on a clean (sorted) timeline.
func (t *timeline) window(lo, hi int64, created func(int32) int64) []int32 {
	o := t.sorted()
	if lo > hi {
		return nil
	}
	a := sort.Search(len(o), func(i int) bool { return created(o[i]) >= lo })
	b := a + sort.Search(len(o)-a, func(i int) bool { return created(o[a+i]) > hi })
	return o[a:b]
}
