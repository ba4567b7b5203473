package archive

import (
	"context"

	"github.com/conserva/conserva/internal/parallel"
)

// forEach is parallel.ForEach, by the name the catalog's loaders call it.
func forEach(ctx context.Context, n, workers int, fn func(i int) error) error {
	return parallel.ForEach(ctx, n, workers, fn)
}
