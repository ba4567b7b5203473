package ers

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"slices"
)

// Tree is an RFC 4998 §4.2 hash tree in the form Bouncy Castle builds and
// checks: the leaf values are sorted in unsigned byte order; each level
// pairs neighbours (1st with 2nd, 3rd with 4th, …) into
// H(smaller || larger); an odd last node goes up to the next level
// unchanged. The tree of a set of hashes is thus the same whatever order
// they are given in.
//
// A leaf is one object's hash, or (for timestamp renewal) a group of
// hashes whose node value is H of their sorted concatenation.
type Tree struct {
	alg    crypto.Hash
	groups [][][]byte // per input leaf: its hash values
	order  []int      // input leaf -> position among the sorted leaves
	levels [][][]byte // levels[0]: sorted leaf node values; last: the root
	token  []byte     // the root's TimeStampToken, once attached
	algID  []byte     // DER AlgorithmIdentifier of alg
}

// Build makes the tree over leaves, each the hash (under alg) of one
// object. Equal leaves are allowed (each gets its own valid path).
func Build(alg crypto.Hash, leaves [][]byte) (*Tree, error) {
	groups := make([][][]byte, len(leaves))
	for i, l := range leaves {
		groups[i] = [][]byte{l}
	}
	return build(alg, groups)
}

func build(alg crypto.Hash, groups [][][]byte) (*Tree, error) {
	algID, err := algorithmID(alg)
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		return nil, errors.New("ers: a hash tree needs at least one leaf")
	}
	type leaf struct {
		value []byte
		input int
	}
	leaves := make([]leaf, len(groups))
	for i, g := range groups {
		for _, v := range g {
			if len(v) != alg.Size() {
				return nil, fmt.Errorf("ers: leaf %d: %d bytes, a %v hash has %d", i, len(v), alg, alg.Size())
			}
		}
		if len(g) == 0 || len(g) > maxValues {
			return nil, fmt.Errorf("ers: leaf %d: %d values", i, len(g))
		}
		leaves[i] = leaf{nodeHash(alg, g), i}
	}
	slices.SortStableFunc(leaves, func(a, b leaf) int { return bytes.Compare(a.value, b.value) })
	t := &Tree{alg: alg, algID: algID, groups: groups, order: make([]int, len(groups))}
	level := make([][]byte, len(leaves))
	for pos, l := range leaves {
		level[pos] = l.value
		t.order[l.input] = pos
	}
	t.levels = append(t.levels, level)
	// One buffer per level for the parents: few allocations at 100,000
	// leaves.
	for len(level) > 1 {
		next := make([][]byte, (len(level)+1)/2)
		buf := make([]byte, len(level)/2*alg.Size())
		h := alg.New()
		for i := 0; i+1 < len(level); i += 2 {
			h.Reset()
			a, b := level[i], level[i+1]
			if bytes.Compare(a, b) > 0 {
				a, b = b, a
			}
			h.Write(a)
			h.Write(b)
			next[i/2] = h.Sum(buf[i/2*alg.Size() : i/2*alg.Size() : (i/2+1)*alg.Size()])
		}
		if len(level)%2 == 1 {
			next[len(next)-1] = level[len(level)-1]
		}
		t.levels = append(t.levels, next)
		level = next
	}
	return t, nil
}

// Algorithm is the tree's hash.
func (t *Tree) Algorithm() crypto.Hash { return t.alg }

// Len is the number of leaves.
func (t *Tree) Len() int { return len(t.groups) }

// Root is the root hash: the archive timestamp's message imprint.
func (t *Tree) Root() []byte { return t.levels[len(t.levels)-1][0] }

// siblings are the values leaf i is combined with on its way to the root,
// lowest first. A node carried up unchanged has no sibling at that level.
func (t *Tree) siblings(i int) [][]byte {
	out := make([][]byte, 0, len(t.levels))
	pos := t.order[i]
	for _, level := range t.levels[:len(t.levels)-1] {
		if s := pos ^ 1; s < len(level) {
			out = append(out, level[s])
		}
		pos /= 2
	}
	return out
}

// Reduced is leaf i's reduced hash tree (RFC 4998 §4.2), nil when the
// tree is a single object's hash (the imprint is then that hash).
//
// A single hash h shares the first list with its first sibling s: (h, s)
// in ascending order, so that the list reads the same to Bouncy Castle
// (which uses a one-value list as it is) and to a literal reading of the
// RFC (which hashes every list). A group's first list is the group. Every
// later list holds one sibling. The hashes are the tree's own: read them,
// do not modify them.
func (t *Tree) Reduced(i int) [][][]byte {
	sibs := t.siblings(i)
	g := t.groups[i]
	var first [][]byte
	if len(g) == 1 {
		if len(sibs) == 0 {
			return nil
		}
		first, sibs = [][]byte{g[0], sibs[0]}, sibs[1:]
	} else {
		first = slices.Clone(g)
	}
	slices.SortFunc(first, bytes.Compare)
	out := make([][][]byte, 0, 1+len(sibs))
	out = append(out, first)
	for k := range sibs {
		out = append(out, sibs[k:k+1:k+1]) // one list per sibling, sharing sibs
	}
	return out
}

// nodeHash is the value of a list of hashes: the hash itself when alone,
// else H of their concatenation in ascending order.
func nodeHash(alg crypto.Hash, values [][]byte) []byte {
	if len(values) == 1 {
		return values[0]
	}
	sorted := slices.Clone(values)
	slices.SortFunc(sorted, bytes.Compare)
	h := alg.New()
	for _, v := range sorted {
		h.Write(v)
	}
	return h.Sum(nil)
}

// branch is H(smaller || larger).
func branch(alg crypto.Hash, a, b []byte) []byte {
	if bytes.Compare(a, b) > 0 {
		a, b = b, a
	}
	h := alg.New()
	h.Write(a)
	h.Write(b)
	return h.Sum(nil)
}

// rootOf recomputes the root from a reduced hash tree, as Bouncy Castle
// does: the first list's value, then each later list's single value
// paired with it. Later lists of several values are refused: RFC 4998 and
// Bouncy Castle would compute different roots from them.
func rootOf(alg crypto.Hash, rht [][][]byte) ([]byte, error) {
	for i, l := range rht {
		for _, v := range l {
			if len(v) != alg.Size() {
				return nil, fmt.Errorf("reduced hash tree: a %d-byte value in a %v tree", len(v), alg)
			}
		}
		if i > 0 && len(l) != 1 {
			return nil, fmt.Errorf("reduced hash tree: list %d holds %d values, one expected", i+1, len(l))
		}
	}
	root := nodeHash(alg, rht[0])
	for _, l := range rht[1:] {
		root = branch(alg, root, l[0])
	}
	return root, nil
}
