// bench_etcd: the peer of bench_raft — the same closed-loop workload against an etcd cluster
// through etcd's own Go client (gRPC). Built from Debian's golang-etcd-server-dev sources by
// scripts/bench_store.sh (GOPATH=/usr/share/gocode, GO111MODULE=off).
//
//	bench_etcd -endpoints http://127.0.0.1:2379 -clients 64 -size 256 -seconds 5 -op put|cas|get
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
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
	flag.Parse()
	val := strings.Repeat("v", *size)
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
