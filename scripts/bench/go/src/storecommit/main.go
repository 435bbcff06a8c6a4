// storecommit times the durable commit of one new active snapshot's
// metadata in containerd 1.7.24's snapshot storage (bbolt), exactly as its
// overlayfs snapshotter's Prepare commits it: one writable transaction,
// storage.CreateSnapshot, Commit. store-commit.ts runs it beside strata's
// MetaStore.
//
//	storecommit DIR COUNT
//
// prints one line per commit: its duration in microseconds.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/containerd/containerd/snapshots"
	"github.com/containerd/containerd/snapshots/storage"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: storecommit DIR COUNT")
		os.Exit(2)
	}
	count, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fail(err)
	}
	ms, err := storage.NewMetaStore(filepath.Join(os.Args[1], "metadata.db"))
	if err != nil {
		fail(err)
	}
	defer ms.Close()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for i := 0; i < count; i++ {
		start := time.Now()
		ctx, t, err := ms.TransactionContext(context.Background(), true)
		if err != nil {
			fail(err)
		}
		if _, err := storage.CreateSnapshot(ctx, snapshots.KindActive, "snapshot-"+strconv.Itoa(i), ""); err != nil {
			t.Rollback()
			fail(err)
		}
		if err := t.Commit(); err != nil {
			fail(err)
		}
		fmt.Fprintln(out, time.Since(start).Microseconds())
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
