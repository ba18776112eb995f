// Command bundlecheck checks a bloodledger audit bundle with Go's own
// transparency-log code, independently of the ledger's Python implementation.
//
// Usage:
//
//	bundlecheck [-trusted FILE]... DIR
//
// DIR is a bundle as docs/audit.md (section 4) describes it. Every signed note
// (checkpoint, selection, the checkpoint inside each proof, each earlier
// checkpoint, each -trusted checkpoint) is opened with golang.org/x/mod/sumdb/note
// and the bundle's verifier key; every inclusion and consistency proof is
// checked with golang.org/x/mod/sumdb/tlog. The chains named by the selection
// statement are walked from their heads back to their first facts, so a fact
// left out of the bundle is found. Each -trusted FILE is a checkpoint the reader
// received earlier: the bundle's tree must extend it.
//
// One line is printed per failure, naming the file, then a summary line.
// The exit status is 0 when every check passes, 1 when one fails, 2 on a
// usage error.
package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	leafHeader      = "bloodledger/leaf/v1"
	selectionHeader = "bloodledger/selection/v1"
	proofHeader     = "c2sp.org/tlog-proof@v1"
	proofSuffix     = ".tlog-proof"
	none            = "-"
)

// b64 is RFC 4648 section 4 base64, padded, canonical.
var b64 = base64.StdEncoding.Strict()

// tree is a checkpoint's text: origin, size, root hash.
type tree struct {
	origin string
	size   int64
	root   tlog.Hash
}

func (t tree) String() string {
	return fmt.Sprintf("%s size %d root %s", t.origin, t.size, b64.EncodeToString(t.root[:]))
}

// link is a leaf's "key <key> <previous>" line; prev is -1 for "-".
type link struct {
	key  string
	prev int64
}

// selection is the signed selection statement.
type selection struct {
	tree     tree
	kind     string
	value    string
	from, to string
	heads    map[string]int64 // key -> index of the chain's newest fact, -1 for "-"
	order    []string         // the heads' keys, as listed
}

type checker struct {
	dir      string
	out      io.Writer
	known    note.Verifiers
	keyName  string
	failures int
}

// fail reports one failure of file (a path relative to the bundle, or as given).
func (c *checker) fail(file, format string, args ...interface{}) {
	c.failures++
	fmt.Fprintf(c.out, "FAIL %s: %s\n", file, fmt.Sprintf(format, args...))
}

func (c *checker) path(rel string) string { return filepath.Join(c.dir, filepath.FromSlash(rel)) }

func (c *checker) read(rel string) ([]byte, error) { return os.ReadFile(c.path(rel)) }

// decimal parses a non-negative decimal without leading zeroes.
func decimal(s string) (int64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%q is not a decimal without leading zeroes", s)
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("%q is not a decimal without leading zeroes", s)
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return n, nil
}

func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	raw, err := b64.DecodeString(s)
	if err != nil {
		return h, fmt.Errorf("%q is not base64", s)
	}
	if len(raw) != tlog.HashSize {
		return h, fmt.Errorf("%q is not a SHA-256 hash", s)
	}
	copy(h[:], raw)
	return h, nil
}

// parseHashLines reads a hash list: one base64 hash per line, each line ending in "\n".
func parseHashLines(data []byte) ([]tlog.Hash, error) {
	if len(data) == 0 {
		return nil, nil
	}
	text := string(data)
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("the last line does not end in a newline")
	}
	var hashes []tlog.Hash
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		h, err := parseHash(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		hashes = append(hashes, h)
	}
	return hashes, nil
}

// parseTree parses a checkpoint's text: exactly origin, size and root hash.
func parseTree(text string) (tree, error) {
	var t tree
	if !strings.HasSuffix(text, "\n") {
		return t, errors.New("the checkpoint's text does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) != 3 {
		return t, fmt.Errorf("a checkpoint is 3 lines (origin, size, root hash), this one is %d", len(lines))
	}
	if lines[0] == "" {
		return t, errors.New("the checkpoint's origin is empty")
	}
	size, err := decimal(lines[1])
	if err != nil {
		return t, fmt.Errorf("the checkpoint's size: %v", err)
	}
	root, err := parseHash(lines[2])
	if err != nil {
		return t, fmt.Errorf("the checkpoint's root: %v", err)
	}
	return tree{lines[0], size, root}, nil
}

// openNote opens a signed note with the bundle's key and returns its text.
func (c *checker) openNote(data []byte) (string, error) {
	n, err := note.Open(data, c.known)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			return "", errors.New("not signed by the bundle's key " + c.keyName + " (vkey)")
		}
		return "", err
	}
	signed := false
	for _, sig := range n.Sigs {
		if sig.Name == c.keyName {
			signed = true
		}
	}
	if !signed {
		return "", errors.New("not signed by " + c.keyName)
	}
	return n.Text, nil
}

// openCheckpoint opens a signed checkpoint whose origin is the key's name.
func (c *checker) openCheckpoint(data []byte) (tree, error) {
	text, err := c.openNote(data)
	if err != nil {
		return tree{}, err
	}
	t, err := parseTree(text)
	if err != nil {
		return tree{}, err
	}
	if t.origin != c.keyName {
		return tree{}, fmt.Errorf("the origin %q is not the signing key's name %q", t.origin, c.keyName)
	}
	return t, nil
}

// parseTlogProof reads a c2sp.org/tlog-proof@v1 file.
func parseTlogProof(data []byte) (int64, tlog.RecordProof, []byte, error) {
	split := bytes.Index(data, []byte("\n\n"))
	if split < 0 {
		return 0, nil, nil, errors.New("no empty line before the checkpoint")
	}
	lines := strings.Split(string(data[:split]), "\n")
	if lines[0] != proofHeader {
		return 0, nil, nil, fmt.Errorf("the first line is not %s", proofHeader)
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		if _, err := b64.DecodeString(strings.TrimPrefix(lines[0], "extra ")); err != nil {
			return 0, nil, nil, errors.New("the extra data is not base64")
		}
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return 0, nil, nil, errors.New("no index line")
	}
	index, err := decimal(strings.TrimPrefix(lines[0], "index "))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("the index: %v", err)
	}
	var proof tlog.RecordProof
	for i, line := range lines[1:] {
		h, err := parseHash(line)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("proof hash %d: %v", i+1, err)
		}
		proof = append(proof, h)
	}
	return index, proof, data[split+2:], nil
}

// isUUID reports whether s is a lowercase 8-4-4-4-12 hexadecimal UUID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
				return false
			}
		}
	}
	return true
}

// parseLeaf reads the links of the leaf at tree index index and checks its form.
func parseLeaf(data []byte, index int64) ([]link, error) {
	split := bytes.Index(data, []byte("\n\n"))
	if split < 0 {
		return nil, errors.New("a leaf's head ends with an empty line")
	}
	// The state, to the end of the leaf, is hashed as it is: nothing here reads it.
	lines := strings.Split(string(data[:split]), "\n")
	if len(lines) < 4 || lines[0] != leafHeader {
		return nil, fmt.Errorf("a leaf starts with %s, stream, version and topic", leafHeader)
	}
	if s := strings.TrimPrefix(lines[1], "stream "); s == lines[1] || !isUUID(s) {
		return nil, errors.New("the stream line is not 'stream <lowercase UUID>'")
	}
	if v := strings.TrimPrefix(lines[2], "version "); v == lines[2] {
		return nil, errors.New("no version line")
	} else if n, err := decimal(v); err != nil || n < 1 {
		return nil, errors.New("the version is not a positive decimal")
	}
	if t := strings.TrimPrefix(lines[3], "topic "); t == lines[3] || t == "" {
		return nil, errors.New("no topic line")
	}
	var links []link
	for _, line := range lines[4:] {
		parts := strings.Split(line, " ")
		if len(parts) != 3 || parts[0] != "key" || parts[1] == "" {
			return nil, fmt.Errorf("%q is not 'key <key> <previous>'", line)
		}
		l := link{parts[1], -1}
		if parts[2] != none {
			prev, err := decimal(parts[2])
			if err != nil {
				return nil, fmt.Errorf("the previous fact of %s: %v", l.key, err)
			}
			if prev >= index {
				return nil, fmt.Errorf("the previous fact of %s (%d) is not before this one (%d)", l.key, prev, index)
			}
			l.prev = prev
		}
		if len(links) > 0 && links[len(links)-1].key >= l.key {
			return nil, fmt.Errorf("the keys are not sorted: %s after %s", l.key, links[len(links)-1].key)
		}
		links = append(links, l)
	}
	return links, nil
}

// parseSelection reads the selection statement's text.
func parseSelection(text string) (*selection, error) {
	if !strings.HasSuffix(text, "\n") {
		return nil, errors.New("the text does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 5 || lines[0] != selectionHeader {
		return nil, fmt.Errorf("a selection is %s, origin, size, root, criteria and heads", selectionHeader)
	}
	field := func(line, name string) (string, error) {
		if !strings.HasPrefix(line, name+" ") {
			return "", fmt.Errorf("expected a line '%s ...', found %q", name, line)
		}
		return strings.TrimPrefix(line, name+" "), nil
	}
	s := &selection{heads: map[string]int64{}}
	var err error
	var size, root string
	if s.tree.origin, err = field(lines[1], "origin"); err != nil {
		return nil, err
	}
	if size, err = field(lines[2], "size"); err != nil {
		return nil, err
	}
	if s.tree.size, err = decimal(size); err != nil {
		return nil, fmt.Errorf("size: %v", err)
	}
	if root, err = field(lines[3], "root"); err != nil {
		return nil, err
	}
	if s.tree.root, err = parseHash(root); err != nil {
		return nil, fmt.Errorf("root: %v", err)
	}
	criteria := strings.Split(lines[4], " ")
	if len(criteria) != 7 || criteria[0] != "criteria" || criteria[3] != "from" || criteria[5] != "to" {
		return nil, fmt.Errorf("%q is not 'criteria <kind> <value> from <time|-> to <time|->'", lines[4])
	}
	s.kind, s.value, s.from, s.to = criteria[1], criteria[2], criteria[4], criteria[6]
	switch s.kind {
	case "din", "facility", "donor", "patient":
	default:
		return nil, fmt.Errorf("unknown criterion %q", s.kind)
	}
	for _, line := range lines[5:] {
		parts := strings.Split(line, " ")
		if len(parts) != 3 || parts[0] != "head" || parts[1] == "" {
			return nil, fmt.Errorf("%q is not 'head <key> <index|->'", line)
		}
		index := int64(-1)
		if parts[2] != none {
			if index, err = decimal(parts[2]); err != nil {
				return nil, fmt.Errorf("the head of %s: %v", parts[1], err)
			}
		}
		if n := len(s.order); n > 0 && s.order[n-1] >= parts[1] {
			return nil, fmt.Errorf("the heads are not sorted by key: %s after %s", parts[1], s.order[n-1])
		}
		s.heads[parts[1]] = index
		s.order = append(s.order, parts[1])
	}
	return s, nil
}

// escape percent-encodes every byte outside A-Z a-z 0-9 . _ ~ - (RFC 3986, uppercase hex).
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("._~-", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// day is the UTC calendar day of an ISO-8601 time (a time without offset is UTC).
func day(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO-8601 time", s)
}

// requiredKeys are the chains the criteria need that can be named from the statement alone.
func (s *selection) requiredKeys() ([]string, error) {
	switch s.kind {
	case "din":
		return []string{"din:" + escape(s.value)}, nil
	case "donor", "patient":
		return []string{s.kind + ":" + escape(s.value)}, nil
	}
	if s.from == none || s.to == none {
		return nil, nil // the days are the facility's first to last: not known from here
	}
	from, err := day(s.from)
	if err != nil {
		return nil, err
	}
	to, err := day(s.to)
	if err != nil {
		return nil, err
	}
	if to.Before(from) {
		return nil, fmt.Errorf("the period ends (%s) before it starts (%s)", s.to, s.from)
	}
	var keys []string
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		keys = append(keys, "facility:"+escape(s.value)+":"+d.Format("2006-01-02"))
	}
	return keys, nil
}

// indexedFiles lists dir's files named <index><suffix>; other names are failures.
func (c *checker) indexedFiles(dir, suffix string) map[int64]string {
	found := map[int64]string{}
	items, err := os.ReadDir(c.path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return found
	}
	if err != nil {
		c.fail(dir, "cannot list: %v", err)
		return found
	}
	for _, item := range items {
		rel := dir + "/" + item.Name()
		index, err := decimal(strings.TrimSuffix(item.Name(), suffix))
		if item.IsDir() || !strings.HasSuffix(item.Name(), suffix) || err != nil {
			c.fail(rel, "not a file named <index>%s", suffix)
			continue
		}
		found[index] = rel
	}
	return found
}

func sortedKeys(m map[int64]string) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}

// checkEntries verifies each entry's inclusion proof and returns the links of each verified entry;
// present holds the index of every entry file, verified or not.
func (c *checker) checkEntries(head tree) (verified map[int64][]link, present map[int64]bool) {
	entries := c.indexedFiles("entries", "")
	proofs := c.indexedFiles("proofs", proofSuffix)
	verified, present = map[int64][]link{}, map[int64]bool{}
	for index := range entries {
		present[index] = true
	}
	for _, index := range sortedKeys(proofs) {
		if _, ok := entries[index]; !ok {
			c.fail(proofs[index], "a proof of entry %d, but there is no entries/%d", index, index)
		}
	}
	for _, index := range sortedKeys(entries) {
		rel, proofRel := entries[index], proofs[index]
		if proofRel == "" {
			c.fail(rel, "no proofs/%d%s proves it", index, proofSuffix)
			continue
		}
		data, err := c.read(rel)
		if err != nil {
			c.fail(rel, "cannot read: %v", err)
			continue
		}
		raw, err := c.read(proofRel)
		if err != nil {
			c.fail(proofRel, "cannot read: %v", err)
			continue
		}
		proofIndex, proof, signed, err := parseTlogProof(raw)
		if err != nil {
			c.fail(proofRel, "not a %s proof: %v", proofHeader, err)
			continue
		}
		if proofIndex != index {
			c.fail(proofRel, "proves index %d, not %d", proofIndex, index)
			continue
		}
		embedded, err := c.openCheckpoint(signed)
		if err != nil {
			c.fail(proofRel, "its checkpoint: %v", err)
			continue
		}
		if embedded != head {
			c.fail(proofRel, "its checkpoint (%s) is not the bundle's checkpoint (%s)", embedded, head)
			continue
		}
		if index >= head.size {
			c.fail(rel, "index %d is not in a tree of %d", index, head.size)
			continue
		}
		if err := tlog.CheckRecord(proof, head.size, head.root, index, tlog.RecordHash(data)); err != nil {
			c.fail(rel, "not included in the tree of size %d by %s: %v", head.size, proofRel, err)
			continue
		}
		links, err := parseLeaf(data, index)
		if err != nil {
			c.fail(rel, "included, but not a leaf: %v", err)
			continue
		}
		verified[index] = links
	}
	return verified, present
}

// checkConsistency verifies each earlier checkpoint and its consistency proof to head.
func (c *checker) checkConsistency(head tree) int {
	earlier := c.indexedFiles("checkpoints", "")
	proved := map[int64]bool{}
	count := 0
	items, err := os.ReadDir(c.path("consistency"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.fail("consistency", "cannot list: %v", err)
	}
	for _, item := range items {
		rel := "consistency/" + item.Name()
		ms, ns, found := strings.Cut(item.Name(), "-")
		m, errM := decimal(ms)
		n, errN := decimal(ns)
		if item.IsDir() || !found || errM != nil || errN != nil {
			c.fail(rel, "not a file named <m>-<n>")
			continue
		}
		if n != head.size {
			c.fail(rel, "proves consistency with a tree of size %d, but the checkpoint's size is %d", n, head.size)
			continue
		}
		proved[m] = true
		old := fmt.Sprintf("checkpoints/%d", m)
		if earlier[m] == "" {
			c.fail(rel, "there is no %s to prove consistent", old)
			continue
		}
		data, err := c.read(old)
		if err != nil {
			c.fail(old, "cannot read: %v", err)
			continue
		}
		oldTree, err := c.openCheckpoint(data)
		if err != nil {
			c.fail(old, "%v", err)
			continue
		}
		if oldTree.size != m {
			c.fail(old, "its size is %d, not %d", oldTree.size, m)
			continue
		}
		if err := c.checkTree(rel, oldTree, head); err != nil {
			c.fail(rel, "%s (%s) is not a prefix of the checkpoint (%s): %v", old, oldTree, head, err)
			continue
		}
		count++
	}
	for _, m := range sortedKeys(earlier) {
		if !proved[m] {
			c.fail(earlier[m], "no consistency/%d-%d proves the checkpoint extends it", m, head.size)
		}
	}
	return count
}

// checkTree verifies the consistency proof in file rel from tree old to tree head.
func (c *checker) checkTree(rel string, old, head tree) error {
	data, err := c.read(rel)
	if err != nil {
		return err
	}
	hashes, err := parseHashLines(data)
	if err != nil {
		return err
	}
	switch {
	case old.size > head.size:
		return fmt.Errorf("a tree of %d cannot be a prefix of one of %d", old.size, head.size)
	case old.size == head.size:
		if len(hashes) != 0 {
			return errors.New("the proof between two trees of the same size must be empty")
		}
		if old.root != head.root {
			return errors.New("two different trees of the same size")
		}
		return nil
	case old.size == 0:
		if len(hashes) != 0 {
			return errors.New("the proof from the empty tree must be empty")
		}
		return nil
	}
	return tlog.CheckTree(tlog.TreeProof(hashes), head.size, head.root, old.size, old.root)
}

// checkChains walks every chain of the selection from its head to its first fact.
func (c *checker) checkChains(sel *selection, head tree, verified map[int64][]link, entries map[int64]bool) {
	required, err := sel.requiredKeys()
	if err != nil {
		c.fail("selection", "the criteria: %v", err)
	}
	for _, key := range required {
		if _, ok := sel.heads[key]; !ok {
			c.fail("selection", "the criteria %s %s need the chain %s, which has no head line", sel.kind, sel.value, key)
		}
	}
	// The DINs among a donor's or patient's facts must have their chains too.
	personKey := ""
	if sel.kind == "donor" || sel.kind == "patient" {
		personKey = sel.kind + ":" + escape(sel.value)
	}
	for _, key := range sel.order {
		index := sel.heads[key]
		if index >= head.size {
			c.fail("selection", "the head of %s (%d) is not in the tree of %d", key, index, head.size)
			continue
		}
		from := "its head"
		for index != -1 {
			rel := fmt.Sprintf("entries/%d", index)
			links, ok := verified[index]
			if !ok {
				why := "missing"
				if entries[index] {
					why = "not verified (above)"
				}
				c.fail(rel, "%s: the chain %s is broken: it needs entry %d (reached from %s)", why, key, index, from)
				break
			}
			prev, carries := int64(-1), false
			for _, l := range links {
				if l.key == key {
					prev, carries = l.prev, true
				}
				if key == personKey && strings.HasPrefix(l.key, "din:") {
					if _, ok := sel.heads[l.key]; !ok {
						c.fail("selection", "no head line for %s, a DIN of %s (%s)", l.key, key, rel)
					}
				}
			}
			if !carries {
				c.fail(rel, "the chain %s reaches it (from %s), but it is not in that chain", key, from)
				break
			}
			from = rel
			index = prev
		}
	}
}

// checkTrusted checks that the bundle's tree extends a checkpoint the reader trusts.
func (c *checker) checkTrusted(file string, head tree) {
	data, err := os.ReadFile(file)
	if err != nil {
		c.fail(file, "cannot read: %v", err)
		return
	}
	trusted, err := c.openCheckpoint(data)
	if err != nil {
		c.fail(file, "the trusted checkpoint: %v", err)
		return
	}
	switch {
	case trusted.size > head.size:
		c.fail(file, "the trusted checkpoint has size %d, larger than the bundle's %d: the bundle is older than what you already trust", trusted.size, head.size)
	case trusted.size == head.size:
		if trusted.root != head.root {
			c.fail(file, "the trusted checkpoint and the bundle's have the same size %d and different roots: two histories", head.size)
		}
	default:
		rel := fmt.Sprintf("consistency/%d-%d", trusted.size, head.size)
		if _, err := os.Stat(c.path(rel)); err != nil {
			c.fail(file, "the bundle has no %s to prove it extends the trusted checkpoint", rel)
			return
		}
		if err := c.checkTree(rel, trusted, head); err != nil {
			c.fail(file, "the bundle's tree does not extend the trusted checkpoint (%s) by %s: %v", trusted, rel, err)
		}
	}
}

func (c *checker) check(trusted []string) (entries, proofs int, size int64) {
	raw, err := c.read("vkey")
	if err != nil {
		c.fail("vkey", "cannot read: %v", err)
		return
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(raw)))
	if err != nil {
		c.fail("vkey", "not a verifier key: %v", err)
		return
	}
	c.known, c.keyName = note.VerifierList(verifier), verifier.Name()

	data, err := c.read("checkpoint")
	if err != nil {
		c.fail("checkpoint", "cannot read: %v", err)
		return
	}
	head, err := c.openCheckpoint(data)
	if err != nil {
		c.fail("checkpoint", "%v", err)
		return
	}
	size = head.size

	var sel *selection
	if data, err = c.read("selection"); err != nil {
		c.fail("selection", "cannot read: %v", err)
	} else if text, err := c.openNote(data); err != nil {
		c.fail("selection", "%v", err)
	} else if sel, err = parseSelection(text); err != nil {
		c.fail("selection", "%v", err)
	} else if sel.tree != head {
		c.fail("selection", "names the tree %s, not the checkpoint's %s", sel.tree, head)
		sel = nil
	}

	verified, present := c.checkEntries(head)
	proofs = c.checkConsistency(head)
	if sel != nil {
		c.checkChains(sel, head, verified, present)
	}
	for _, file := range trusted {
		c.checkTrusted(file, head)
	}
	return len(verified), proofs, size
}

type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("bundlecheck", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var trusted fileList
	flags.Var(&trusted, "trusted", "a checkpoint `FILE` received earlier, which the bundle must extend (repeatable)")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: bundlecheck [-trusted FILE]... DIR")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() != 1 {
		flags.Usage()
		return 2
	}
	dir := flags.Arg(0)
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		fmt.Fprintf(stderr, "bundlecheck: %s is not a directory\n", dir)
		return 2
	}
	c := &checker{dir: dir, out: stdout}
	entries, proofs, size := c.check(trusted)
	if c.failures > 0 {
		plural := "s"
		if c.failures == 1 {
			plural = ""
		}
		fmt.Fprintf(stdout, "FAILED: %d failure%s in %s\n", c.failures, plural, dir)
		return 1
	}
	fmt.Fprintf(stdout, "OK: %d entries, %d consistency proofs, tree size %d\n", entries, proofs, size)
	return 0
}
