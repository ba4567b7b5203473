package parallel_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/conserva/conserva/internal/parallel"
)

// Every item is done once, never by more goroutines than asked, and every
// error comes back.
func TestForEach(t *testing.T) {
	const n = 1000
	var done [n]atomic.Int32
	var running, most atomic.Int32
	errA, errB := errors.New("item 7"), errors.New("item 900")
	err := parallel.ForEach(context.Background(), n, 3, func(i int) error {
		r := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if r <= m || most.CompareAndSwap(m, r) {
				break
			}
		}
		done[i].Add(1)
		switch i {
		case 7:
			return errA
		case 900:
			return errB
		}
		return nil
	})
	if !errors.Is(err, errA) || !errors.Is(err, errB) {
		t.Errorf("errors: %v", err)
	}
	for i := range done {
		if c := done[i].Load(); c != 1 {
			t.Fatalf("item %d done %d times", i, c)
		}
	}
	if m := most.Load(); m > 3 {
		t.Errorf("%d at once on 3 workers", m)
	}
	if err := parallel.ForEach(context.Background(), 0, 4, func(int) error { t.Error("called with n = 0"); return nil }); err != nil {
		t.Error(err)
	}
}

// An ended context stops the handing out of work and is the error.
func TestForEachStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	err := parallel.ForEach(ctx, 10_000, 2, func(i int) error {
		if calls.Add(1) == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls.Load() >= 10_000 {
		t.Errorf("%v after %d calls", err, calls.Load())
	}
}

// Items made out of order on several goroutines reach emit in order,
// across chunks.
func TestOrdered(t *testing.T) {
	const n = 2500
	next := 0
	err := parallel.Ordered(context.Background(), n, 4, func(i int) ([]byte, error) {
		return []byte(strconv.Itoa(i)), nil
	}, func(i int, data []byte) error {
		if i != next || string(data) != strconv.Itoa(i) {
			return fmt.Errorf("emitted %d (%s), want %d", i, data, next)
		}
		next++
		return nil
	})
	if err != nil || next != n {
		t.Fatalf("%v after %d", err, next)
	}
}

// The first error of produce or emit ends the run: nothing after a failed
// item is emitted.
func TestOrderedStopsAtAnError(t *testing.T) {
	bad := errors.New("item 1500")
	var mu sync.Mutex
	last := -1
	err := parallel.Ordered(context.Background(), 3000, 2, func(i int) ([]byte, error) {
		if i == 1500 {
			return nil, bad
		}
		return []byte{1}, nil
	}, func(i int, _ []byte) error {
		mu.Lock()
		last = i
		mu.Unlock()
		return nil
	})
	if !errors.Is(err, bad) || last != 1023 {
		t.Errorf("%v, last emitted %d (the chunk holding the failure must not be emitted)", err, last)
	}
	stop := errors.New("disk full")
	made := atomic.Int32{}
	err = parallel.Ordered(context.Background(), 5000, 2, func(i int) ([]byte, error) {
		made.Add(1)
		return []byte{1}, nil
	}, func(i int, _ []byte) error {
		if i == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || made.Load() == 5000 {
		t.Errorf("%v, %d made", err, made.Load())
	}
}
