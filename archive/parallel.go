package archive

import (
	"context"
	"errors"
	"sync"
)

// forEach calls fn(i) for every i in [0, n) on workers goroutines: for
// the many small stores and reads of a seal or a renewal, whose time is
// the disk's or the network's. It stops handing out work when ctx ends
// and returns ctx's error, else every error fn returned, joined.
func forEach(ctx context.Context, n, workers int, fn func(i int) error) error {
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
