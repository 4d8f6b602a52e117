package livemem_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/jaraba/pixelgw/store/live/livemem"
	"github.com/jaraba/pixelgw/store/live/livetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	t.Parallel()
	livetest.Exercise(t, func(t *testing.T, maxBuffered int) livetest.Hubs {
		h := livemem.New(maxBuffered)
		stop := func() { _ = h.Stop(context.Background()) }
		t.Cleanup(stop)
		return livetest.Hubs{Pub: h, Sub: h, StopSub: stop}
	})
}
