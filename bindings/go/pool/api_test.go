package pool

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// exercise runs every PhantomDB method through a (a Pool or a Client).
func exercise(t *testing.T, a api) {
	ctx := bg()
	h, err := a.Health(ctx)
	if err != nil || h["status"] != "healthy" {
		t.Fatalf("Health = %v, %v", h, err)
	}
	db := uniq("godb")
	d, err := a.CreateDatabase(ctx, db)
	if err != nil || d.Name != db {
		t.Fatalf("CreateDatabase = %+v, %v", d, err)
	}
	_, err = a.CreateDatabase(ctx, db)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "CONFLICT" || !strings.Contains(ae.Message, db) {
		t.Fatalf("second CreateDatabase: want an APIError 409 CONFLICT, got %v", err)
	}
	dbs, err := a.ListDatabases(ctx)
	if err != nil || !hasDB(dbs, db) {
		t.Fatalf("ListDatabases = %v, %v (want %s in it)", dbs, err, db)
	}
	cols := []Column{{Name: "id", Type: "INTEGER", PrimaryKey: true}, {Name: "v", Type: "TEXT", Nullable: true}}
	tb, err := a.CreateTable(ctx, db, "t", cols)
	if err != nil || tb.Name != "t" || len(tb.Columns) != 2 || !tb.Columns[0].PrimaryKey {
		t.Fatalf("CreateTable = %+v, %v", tb, err)
	}
	n, err := a.InsertRows(ctx, db, "t", []Row{{"id": 1, "v": "a b"}, {"id": 2, "v": "b"}})
	if err != nil || n != 2 {
		t.Fatalf("InsertRows = %d, %v", n, err)
	}
	one, err := a.Insert(ctx, db, "t", map[string]any{"id": 3, "v": "c"})
	if err != nil || one["inserted"] != json.Number("1") {
		t.Fatalf("Insert = %v, %v", one, err)
	}
	rows, err := a.GetRows(ctx, db, "t", RowsOptions{Where: "id > 1", OrderBy: "id DESC", Limit: 5})
	if err != nil || rows.Count != 2 || rows.Rows[0]["id"] != json.Number("3") {
		t.Fatalf("GetRows = %+v, %v", rows, err)
	}
	recs, err := a.Select(ctx, db, "t", "v = 'a b'")
	if err != nil || len(recs) != 1 || recs[0]["id"] != json.Number("1") {
		t.Fatalf("Select = %v, %v", recs, err)
	}
	up, err := a.Update(ctx, db, "t", map[string]any{"v": "z"}, "id = 1")
	if err != nil || up != 1 {
		t.Fatalf("Update = %d, %v", up, err)
	}
	del, err := a.Delete(ctx, db, "t", "id = 2")
	if err != nil || del != 1 {
		t.Fatalf("Delete = %d, %v", del, err)
	}
	q, err := a.Query(ctx, db, "SELECT id, v FROM t WHERE id >= ? ORDER BY id", 1)
	if err != nil || q.RowCount != 2 || len(q.Columns) != 2 || q.Rows[0][1] != "z" {
		t.Fatalf("Query = %+v, %v", q, err)
	}
	tabs, err := a.ListTables(ctx, db)
	if err != nil || len(tabs) != 1 || tabs[0].Name != "t" {
		t.Fatalf("ListTables = %+v, %v", tabs, err)
	}
	if gt, err := a.GetTable(ctx, db, "t"); err != nil || gt.RowCount != 2 {
		t.Fatalf("GetTable = %+v, %v", gt, err)
	}
	tx, err := a.BeginTransaction(ctx)
	if err != nil || !strings.HasPrefix(tx.ID, "tx-") {
		t.Fatalf("BeginTransaction = %+v, %v", tx, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := tx.Commit(ctx); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("second Commit: want APIError 404, got %v", err)
	}
	tx2, err := a.BeginTransaction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx2.Rollback(ctx); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if err := a.DropTable(ctx, db, "t"); err != nil {
		t.Fatalf("DropTable: %v", err)
	}
	if err := a.DropDatabase(ctx, db); err != nil {
		t.Fatalf("DropDatabase: %v", err)
	}
	if _, err := a.GetDatabase(ctx, db); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("GetDatabase after drop: want APIError 404, got %v", err)
	}
}

func hasDB(dbs []Database, name string) bool {
	for _, d := range dbs {
		if d.Name == name {
			return true
		}
	}
	return false
}

func TestPoolMethods(t *testing.T) {
	exercise(t, testPool.api)
	allFree(t)
}

func TestClientMethods(t *testing.T) {
	c, err := testPool.Acquire(bg())
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, c.api)
	if err := testPool.Release(c); err != nil {
		t.Fatal(err)
	}
	allFree(t)
}

func TestSharedClientMethods(t *testing.T) {
	c, err := testPool.AcquireShared(bg())
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, c.api)
	if err := testPool.Release(c); err != nil {
		t.Fatal(err)
	}
	allFree(t)
}

// Names are escaped into one path segment: a name with '?', ' ', '%', '#'
// reaches PhantomDB as that name.
func TestNameEscaping(t *testing.T) {
	ctx := bg()
	name := uniq("a?b c%d#e")
	if _, err := testPool.CreateDatabase(ctx, name); err != nil {
		t.Fatal(err)
	}
	d, err := testPool.GetDatabase(ctx, name)
	if err != nil || d.Name != name {
		t.Fatalf("GetDatabase(%q) = %+v, %v", name, d, err)
	}
	if err := testPool.DropDatabase(ctx, name); err != nil {
		t.Fatal(err)
	}
}

// A name that is exactly "." or ".." reaches PhantomDB as that name
// (%2E, %2E%2E), not as a dot segment, which pp_request refuses.
func TestDotNames(t *testing.T) {
	ctx := bg()
	for _, name := range []string{".", ".."} {
		if _, err := testPool.CreateDatabase(ctx, name); err != nil {
			t.Fatalf("CreateDatabase(%q): %v", name, err)
		}
		d, err := testPool.GetDatabase(ctx, name)
		if err != nil || d.Name != name {
			t.Fatalf("GetDatabase(%q) = %+v, %v", name, d, err)
		}
		if err := testPool.DropDatabase(ctx, name); err != nil {
			t.Fatalf("DropDatabase(%q): %v", name, err)
		}
	}
}

func TestRawRequest(t *testing.T) {
	ctx := bg()
	r, err := testPool.Request(ctx, Request{Method: "GET", Path: "/health",
		Headers: []Header{{"X-Request-Id", "go-raw-1"}}})
	if err != nil || r.Status != 200 || !strings.Contains(string(r.Body), "healthy") {
		t.Fatalf("GET /health = %+v, %v", r, err)
	}
	// Every status comes back as a response, not an error.
	r, err = testPool.Request(ctx, Request{Method: "GET", Path: "/databases/no_such_db_go"})
	if err != nil || r.Status != 404 {
		t.Fatalf("GET missing db = %+v, %v", r, err)
	}
	var body map[string]any
	if err := r.JSON(&body); err != nil || body["code"] != "NOT_FOUND" {
		t.Fatalf("404 body = %v, %v", body, err)
	}
	// A 1 MB body streams through the rings.
	r, err = testPool.Request(ctx, Request{Method: "GET", Path: "/_debug/bytes?bytes=1048576"})
	if err != nil || r.Status != 200 || len(r.Body) != 1<<20 {
		t.Fatalf("1 MB download: status %v len %d err %v", r, len(r.Body), err)
	}
	for i := 0; i < len(r.Body); i += 4099 {
		if r.Body[i] != byte(i*31+7) {
			t.Fatalf("1 MB download: byte %d is %d", i, r.Body[i])
		}
	}
}

// Bad input is refused with its PP_E* code, and the message carries the
// code's name and pp_strerror's text.
func TestErrors(t *testing.T) {
	for _, a := range threeAPIs(t) {
		cases := []struct {
			req  Request
			want *Error
			name string
		}{
			{Request{Method: "GET", Path: "health"}, ErrBadPath, "PP_EBADPATH"},
			{Request{Method: "GET", Path: "/a b"}, ErrBadPath, "PP_EBADPATH"},
			{Request{Method: "GET", Path: "/x\r\nHost: evil"}, ErrBadPath, "PP_EBADPATH"},
			{Request{Method: "GE T", Path: "/health"}, ErrBadMethod, "PP_EBADMETHOD"},
			{Request{Method: "GET", Path: "/health", Headers: []Header{{"Authorization", "Bearer x"}}}, ErrBadHeader, "PP_EBADHEADER"},
			{Request{Method: "GET", Path: "/health\x00/x"}, ErrInvalid, "PP_EINVAL"},
		}
		for _, tc := range cases {
			_, err := a.a.Request(bg(), tc.req)
			var pe *Error
			if !errors.Is(err, tc.want) || !errors.As(err, &pe) || pe.Name() != tc.name ||
				!strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), cStrerror(tc.want.Code)) {
				t.Errorf("%s: %q %q: want %s, got %v", a.name, tc.req.Method, tc.req.Path, tc.name, err)
			}
		}
		if _, err := a.a.GetDatabase(bg(), ""); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: GetDatabase(\"\"): want PP_EINVAL, got %v", a.name, err)
		}
		// The lease is still usable after refused input.
		if _, err := a.a.Health(bg()); err != nil {
			t.Errorf("%s: Health after bad input: %v", a.name, err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Config{Pool: "no-such-pool-go"}); !errors.Is(err, ErrNoPool) || !strings.Contains(err.Error(), "PP_ENOPOOL") {
		t.Errorf("unknown pool: want PP_ENOPOOL, got %v", err)
	}
	// The library's pp_error_detail() is in the error: the segment path
	// and the hint for servers that drop PHANTOMPOOL.
	_, err := New(Config{Pool: "no-such-pool-go"})
	var pe *Error
	if !errors.As(err, &pe) || !strings.Contains(pe.Detail, "no segment /dev/shm/phantompool-no-such-pool-go") ||
		!strings.Contains(err.Error(), "pass the pool name explicitly") {
		t.Errorf("unknown pool: want the library's detail, got %v", err)
	}
	if _, err := New(Config{Pool: "bad/name"}); !errors.Is(err, ErrName) {
		t.Errorf("bad name: want PP_ENAME, got %v", err)
	}
	// C.CString would cut the name at the NUL and attach to another pool.
	if _, err := New(Config{Pool: os.Getenv("PHANTOMPOOL") + "\x00ignored"}); !errors.Is(err, ErrName) {
		t.Errorf("name with a NUL: want PP_ENAME, got %v", err)
	}
}
