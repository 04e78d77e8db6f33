package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/tether-desktop/tether/relay/store"
)

// testSharedKey: a shared key is made once, has SharedKeySize bytes, is the
// same for every handle and every caller of a race, differs by name, and
// survives reopening the storage.
func testSharedKey(t *testing.T, open Open) {
	a, another := open(t)
	b := another()
	ctx := context.Background()
	for r := range 3 {
		name := fmt.Sprintf("key-%d", r)
		keys := make([][]byte, racers)
		errs := make([]error, racers)
		race(a, b, func(i int, s store.Store) { keys[i], errs[i] = s.SharedKey(ctx, name) })
		for i := range keys {
			if errs[i] != nil {
				t.Fatalf("round %d racer %d: %v", r, i, errs[i])
			}
			if len(keys[i]) != store.SharedKeySize || !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("round %d racer %d got %x, racer 0 %x", r, i, keys[i], keys[0])
			}
		}
	}
	k0, err := a.SharedKey(ctx, "key-0")
	if err != nil {
		t.Fatal(err)
	}
	k1, err := b.SharedKey(ctx, "key-1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(k0, k1) {
		t.Fatal("two names gave the same key")
	}
	c := another()
	if again, err := c.SharedKey(ctx, "key-0"); err != nil || !bytes.Equal(again, k0) {
		t.Fatalf("key from a new handle = %x, %v; want %x", again, err, k0)
	}
	if _, err := a.SharedKey(ctx, ""); err == nil {
		t.Fatal("an empty name was accepted")
	}
}
