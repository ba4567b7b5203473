// Package parallel spreads many small jobs over a few goroutines: the
// stores and reads of a seal or a renewal, whose time is the disk's or the
// network's, and the members of a segment, made on every core and written
// in order.
package parallel

import (
	"context"
	"errors"
	"sync"
)

// ForEach calls fn(i) for every i in [0, n) on workers goroutines. It
// stops handing out work when ctx ends and returns ctx's error, else every
// error fn returned, joined.
func ForEach(ctx context.Context, n, workers int, fn func(i int) error) error {
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(workers, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = fn(i)
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// Ordered makes n items on workers goroutines, in chunks, and hands them
// to emit in order, making the next chunk while the last is emitted: a
// segment is written in one pass while the work of making its members
// (XML, evidence records) spreads over the cores. It stops at the first
// error of produce or emit and returns it.
func Ordered(ctx context.Context, n, workers int, produce func(i int) ([]byte, error), emit func(i int, data []byte) error) error {
	const chunk = 1024
	type batch struct {
		start int
		items [][]byte
		err   error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan batch, 1)
	go func() {
		defer close(ready)
		for start := 0; start < n; start += chunk {
			items := make([][]byte, min(chunk, n-start))
			err := ForEach(ctx, len(items), workers, func(k int) error {
				var err error
				items[k], err = produce(start + k)
				return err
			})
			select {
			case ready <- batch{start, items, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for b := range ready {
		if b.err != nil {
			return b.err
		}
		for k, data := range b.items {
			if err := emit(b.start+k, data); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}
