// The seed Go pool's usage, on phantompool: only the import changed.
//
//	tests/with-pool -- build/go/example      (make check-go runs it)
package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"phantompool/pool"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	config := pool.Config{} // the pool named by $PHANTOMPOOL, else "default"
	p, err := pool.New(config)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	// The seed shape: acquire, defer release, use the client.
	client, err := p.Acquire(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Release(client)

	db := fmt.Sprintf("example_%d", time.Now().UnixNano())
	if _, err := client.CreateDatabase(ctx, db); err != nil {
		log.Fatal(err)
	}
	_, err = client.CreateTable(ctx, db, "users", []pool.Column{
		{Name: "id", Type: "INTEGER", PrimaryKey: true},
		{Name: "name", Type: "TEXT"},
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.InsertRows(ctx, db, "users", []pool.Row{{"id": 1, "name": "ada"}, {"id": 2, "name": "brian"}}); err != nil {
		log.Fatal(err)
	}
	tx, err := client.BeginTransaction(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.Update(ctx, db, "users", pool.Row{"name": "grace"}, "id = 2"); err != nil {
		log.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		log.Fatal(err)
	}
	dbs, err := client.ListDatabases(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d database(s); ", len(dbs))

	// Many goroutines at once: one-shot calls on the Pool itself (each
	// leases a seat for one request).
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, err := p.Query(ctx, db, "SELECT name FROM users WHERE id = ?", 1+i%2); err != nil {
				log.Fatal(err)
			}
		}(i)
	}
	wg.Wait()

	res, err := client.Query(ctx, db, "SELECT id, name FROM users ORDER BY id")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("users: %v\n", res.Rows)
	st, err := p.Status()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("pool: %d/%d seats used, %d requests served, daemon pid %d\n", st.Used, st.Max, st.Requests, st.DaemonPID)
	if err := client.DropDatabase(ctx, db); err != nil {
		log.Fatal(err)
	}
}
