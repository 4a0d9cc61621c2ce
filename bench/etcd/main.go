// bench_etcd: the peer of bench_raft — the same closed-loop workload against an etcd cluster
// through etcd's own Go client (gRPC). Built from Debian's golang-etcd-server-dev sources by
// scripts/bench_store.sh (GOPATH=/usr/share/gocode, GO111MODULE=off).
//
//	bench_etcd -endpoints http://127.0.0.1:2379 -clients 64 -size 256 -seconds 5 -op put|cas|get
//	bench_etcd -endpoints URL1,URL2,URL3 -members 3 -op watch -watchers 1000 -per-conn 50 [-spread 3]
//
// watch: the peer of bench_watch — W watchers (clientv3 Watch on the prefix /watch/, multiplexed
// per-conn to a gRPC connection: the client puts every watch of a connection and context on one
// gRPC watch stream), connection c on endpoint c % spread, and one writer doing closed-loop puts
// of new keys /watch/<i> on the leader's endpoint. Every watcher must see every put once, in order.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func main() {
	endpoints := flag.String("endpoints", "http://127.0.0.1:2379", "comma-separated client URLs")
	clients := flag.Int("clients", 64, "concurrent clients, one request in flight each")
	size := flag.Int("size", 256, "value bytes")
	seconds := flag.Float64("seconds", 5, "duration")
	op := flag.String("op", "put", "put | cas | get")
	members := flag.Int("members", 1, "cluster size (printed only)")
	watchers := flag.Int("watchers", 1000, "watch: watchers")
	perConn := flag.Int("per-conn", 50, "watch: watchers per gRPC connection")
	spread := flag.Int("spread", 0, "watch: connections spread over the first N endpoints (0: all)")
	flag.Parse()
	val := strings.Repeat("v", *size)
	if *op == "watch" {
		eps := strings.Split(*endpoints, ",")
		if *spread <= 0 || *spread > len(eps) {
			*spread = len(eps)
		}
		benchWatch(eps, *members, *watchers, *perConn, *spread, val, *seconds)
		return
	}
	// one gRPC connection per 8 clients, like etcd's benchmark tool spreads clients over conns
	nconn := (*clients + 7) / 8
	conns := make([]*clientv3.Client, nconn)
	for i := range conns {
		c, err := clientv3.New(clientv3.Config{Endpoints: strings.Split(*endpoints, ","), DialTimeout: 5 * time.Second})
		if err != nil {
			fmt.Fprintln(os.Stderr, "connect:", err)
			os.Exit(1)
		}
		conns[i] = c
	}
	ctx := context.Background()
	var mu sync.Mutex
	var lat []float64
	errors := 0
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(time.Duration(*seconds * float64(time.Second)))
	for k := 0; k < *clients; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			c := conns[k%nconn]
			key := fmt.Sprintf("/bench/%d", k)
			var rev int64
			if *op == "get" || *op == "cas" {
				r, err := c.Put(ctx, key, val)
				if err == nil {
					rev = r.Header.Revision
				}
			}
			var mine []float64
			bad := 0
			for i := 0; time.Now().Before(end); i++ {
				t := time.Now()
				var err error
				switch *op {
				case "put":
					_, err = c.Put(ctx, fmt.Sprintf("%s/%d", key, i%1000), val)
				case "get": // linearizable by default in etcd
					_, err = c.Get(ctx, key)
				case "cas":
					var r *clientv3.TxnResponse
					r, err = c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
						Then(clientv3.OpPut(key, val)).Commit()
					if err == nil && r.Succeeded {
						rev = r.Header.Revision
					} else if err == nil {
						bad++
					}
				}
				if err != nil {
					bad++
				}
				mine = append(mine, time.Since(t).Seconds())
			}
			mu.Lock()
			lat = append(lat, mine...)
			errors += bad
			mu.Unlock()
		}(k)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	sort.Float64s(lat)
	n := len(lat)
	p := func(q float64) float64 {
		if n == 0 {
			return 0
		}
		return lat[int(float64(n)*q)] * 1e3
	}
	fmt.Printf("etcd members=%d clients=%d size=%d op=%s ops/s=%.0f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
		*members, *clients, *size, *op, float64(n)/secs, p(0.5), p(0.99), errors)
	for _, c := range conns {
		c.Close()
	}
}

func pct(lat []float64, q float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	return lat[int(float64(len(lat))*q)] * 1e3
}

func connect(eps []string) *clientv3.Client {
	c, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
	return c
}

type watcherStat struct {
	count    int64 // atomic: events received
	lastRev  int64
	badOrder int64
	bad      int64 // canceled, errored, or an unexpected event
	lastNs   int64 // atomic: when the last event arrived (ns since start)
	lat      []float64
	leader   bool // on a connection to the leader's endpoint
}

func benchWatch(eps []string, members, watchers, perConn, spread int, val string, seconds float64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// the writer talks to the leader, as Troupe's writer talks to the leader's broker
	leaderEp := eps[0]
	probe := connect(eps)
	for _, ep := range eps {
		if st, err := probe.Status(ctx, ep); err == nil && st.Leader == st.Header.MemberId {
			leaderEp = ep
		}
	}
	probe.Close()
	nconn := (watchers + perConn - 1) / perConn
	conns := make([]*clientv3.Client, nconn)
	for c := range conns {
		conns[c] = connect([]string{eps[c%spread]})
	}
	const maxWrites = 1 << 20
	sent := make([]int64, maxWrites) // write i: when it was sent (ns since start)
	start := time.Now()
	stats := make([]*watcherStat, watchers)
	var wg sync.WaitGroup
	for j := 0; j < watchers; j++ {
		st := &watcherStat{leader: eps[(j/perConn)%spread] == leaderEp}
		stats[j] = st
		ch := conns[j/perConn].Watch(ctx, "/watch/", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
		first := <-ch
		if !first.Created {
			fmt.Fprintln(os.Stderr, "watch", j, "was not created:", first.Err())
			os.Exit(1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for resp := range ch {
				if resp.Canceled || resp.Err() != nil {
					st.bad++
					continue
				}
				now := time.Since(start).Nanoseconds()
				for _, ev := range resp.Events {
					i, err := strconv.Atoi(strings.TrimPrefix(string(ev.Kv.Key), "/watch/"))
					if err != nil || i < 0 || i >= maxWrites || ev.Type != clientv3.EventTypePut {
						st.bad++
						continue
					}
					if ev.Kv.ModRevision <= st.lastRev {
						st.badOrder++
					}
					st.lastRev = ev.Kv.ModRevision
					st.lat = append(st.lat, float64(now-atomic.LoadInt64(&sent[i]))/1e9)
					atomic.StoreInt64(&st.lastNs, now)
					atomic.AddInt64(&st.count, 1)
				}
			}
		}()
	}
	w := connect([]string{leaderEp})
	var plat []float64
	errors := 0
	t0 := time.Since(start).Nanoseconds()
	end := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	nw := 0
	for nw < maxWrites && time.Now().Before(end) {
		s := time.Now()
		atomic.StoreInt64(&sent[nw], s.Sub(start).Nanoseconds())
		if _, err := w.Put(ctx, fmt.Sprintf("/watch/%d", nw), val); err != nil {
			fmt.Fprintln(os.Stderr, "put failed:", err)
			errors++
			break // it may still have been applied: the expected count would be unknown
		}
		plat = append(plat, time.Since(s).Seconds())
		nw++
	}
	wend := time.Since(start).Nanoseconds()
	// every watcher must get every put: wait for them (30 s at most)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		all := true
		for _, st := range stats {
			if atomic.LoadInt64(&st.count) < int64(nw) {
				all = false
				break
			}
		}
		if all {
			break
		}
	}
	cancel()
	wg.Wait()
	var lat, latLeader, latFollower []float64
	var delivered, last, minc, maxc int64 = 0, t0, 1 << 62, 0
	short, badOrder, bad := 0, int64(0), int64(0)
	for _, st := range stats {
		delivered += st.count
		if st.count != int64(nw) {
			short++
		}
		if st.count < minc {
			minc = st.count
		}
		if st.count > maxc {
			maxc = st.count
		}
		if st.lastNs > last {
			last = st.lastNs
		}
		badOrder += st.badOrder
		bad += st.bad
		lat = append(lat, st.lat...)
		if st.leader {
			latLeader = append(latLeader, st.lat...)
		} else {
			latFollower = append(latFollower, st.lat...)
		}
	}
	sort.Float64s(lat)
	sort.Float64s(latLeader)
	sort.Float64s(latFollower)
	sort.Float64s(plat)
	want := int64(nw) * int64(watchers)
	lost := delivered != want || short > 0 || badOrder > 0
	// bad counts the cancellations at the end (our own cancel) too: only events matter here
	if lost {
		errors++
	}
	fmt.Printf("etcd members=%d watchers=%d per_conn=%d spread=%d size=%d op=watch writes/s=%.0f put_p50_ms=%.3f "+
		"put_p99_ms=%.3f events/s=%.0f p50_ms=%.3f p99_ms=%.3f leader_p50_ms=%.3f follower_p50_ms=%.3f "+
		"tail_ms=%.1f delivered=%d expected=%d errors=%d\n",
		members, watchers, perConn, spread, len(val), float64(nw)/(float64(wend-t0)/1e9), pct(plat, 0.5), pct(plat, 0.99),
		float64(delivered)/(float64(last-t0)/1e9), pct(lat, 0.5), pct(lat, 0.99), pct(latLeader, 0.5),
		pct(latFollower, 0.5), float64(last-wend)/1e6,
		delivered, want, errors)
	if lost {
		fmt.Printf("etcd WATCH MISMATCH: %d of %d events delivered; %d of %d watchers short (min %d, max %d of %d), "+
			"%d out of order or repeated, %d bad responses\n", delivered, want, short, watchers, minc, maxc, nw, badOrder, bad)
	}
	w.Close()
	for _, c := range conns {
		c.Close()
	}
	if lost {
		os.Exit(3)
	}
}
