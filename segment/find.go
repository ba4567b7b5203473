package segment

import (
	"fmt"
	"io"
)

// Find is the member named, found without indexing the segment: its
// headers are all read and checked as ReadIndex checks them, but only the
// member named is kept, so a reader of one member holds nothing of the
// others (an index of 100,000 members holds some 17 MB). A duplicate of
// another name is not noticed (that takes the names: ReadIndex); one of the
// name sought is refused, as the copy to read would be a guess.
// ErrNotFound when there is no such member.
func Find(r io.Reader, name string) (Member, error) {
	var found Member
	n := 0
	err := each(r, false, func(m Member, _ io.Reader) error {
		if m.Name == name {
			if n++; n > 1 {
				return fmt.Errorf("segment: %q appears twice", name)
			}
			found = m
		}
		return nil
	})
	if err != nil {
		return Member{}, err
	}
	if n == 0 {
		return Member{}, fmt.Errorf("%q: %w", name, ErrNotFound)
	}
	return found, nil
}
