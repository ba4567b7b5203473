package archive

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/conserva/conserva/pec"
)

func TestZZProfAudit(t *testing.T) {
	dir := os.Getenv("PROF_ARCHIVE")
	if dir == "" {
		t.Skip()
	}
	a, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	stop := make(chan struct{})
	go func() {
		var max uint64
		n := 0
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			st, _ := os.ReadFile("/proc/self/status")
			var rss []string
			for _, l := range strings.Split(string(st), "\n") {
				if strings.HasPrefix(l, "RssAnon") || strings.HasPrefix(l, "RssFile") || strings.HasPrefix(l, "VmHWM") {
					rss = append(rss, strings.Join(strings.Fields(l), " "))
				}
			}
			if n++; n%10 == 0 {
				t.Logf("%s heap in use %d MB, %v", time.Now().Format("15:04:05"), ms.HeapInuse>>20, rss)
			}
			if ms.HeapInuse > max+30<<20 {
				max = ms.HeapInuse
				f, _ := os.Create("/tmp/mem/heap.prof")
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
				t.Logf("%s heap in use %d MB", time.Now().Format("15:04:05"), max>>20)
			}
		}
	}()
	var trust *pec.TrustStore
	rep, err := a.Audit(context.Background(), 0, trust, nil)
	close(stop)
	t.Logf("%d problems %v", len(rep.Problems), err)
}
