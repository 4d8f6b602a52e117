package main

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/jaraba/pixelgw/configs"
	"github.com/jaraba/pixelgw/store/live"
	"github.com/jaraba/pixelgw/store/live/livemem"
	"github.com/jaraba/pixelgw/store/live/liveredis"
)

// openLive builds the live-stream hub the mode selects: Redis pub/sub in
// scaled mode (its own client: the hub holds one pub/sub connection), the
// in-process hub in embedded mode. It registers the hub's metrics (no
// tenant label) and returns the component to start before the API and the
// delivery engine (so it stops after them) and a close function.
func openLive(cfg configs.Config, reg prometheus.Registerer, log *slog.Logger) (live.Hub, component, func(), error) {
	var hub live.Hub
	var comp component
	closeFn := func() {}
	if cfg.Mode == configs.ModeScaled {
		rdb := redis.NewClient(&redis.Options{Addr: cfg.Redis.Addr, Password: cfg.Redis.Password, DB: cfg.Redis.DB})
		h := liveredis.New(rdb, liveredis.Config{Prefix: cfg.Redis.Prefix}, log)
		hub, comp, closeFn = h, component{"live", h.Start, h.Stop}, func() { rdb.Close() }
	} else {
		h := livemem.New(0)
		hub, comp = h, component{"live", h.Start, h.Stop}
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "pixelgw_live_streams",
			Help: "Live event streams open on this instance.",
		}, func() float64 { return float64(hub.Stats().Subscriptions) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "pixelgw_live_streams_dropped_total",
			Help: "Live event streams closed because the client fell too far behind.",
		}, func() float64 { return float64(hub.Stats().Dropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "pixelgw_live_updates_dropped_total",
			Help: "Live stream updates dropped before publishing (publisher buffer full or Redis unreachable).",
		}, func() float64 { return float64(hub.Stats().PublishDropped) }),
	} {
		if err := reg.Register(c); err != nil {
			closeFn()
			return nil, component{}, nil, fmt.Errorf("cannot register live metrics: %w", err)
		}
	}
	return hub, comp, closeFn, nil
}
