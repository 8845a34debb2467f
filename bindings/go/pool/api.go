package pool

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Header is one request header.  phantompoold lets workers set only
// Content-Type, Accept and X-Request-Id (others: PP_EBADHEADER); it adds
// the bearer token, Host and keep-alive itself.
type Header struct{ Name, Value string }

// Request is one HTTP request for PhantomDB, forwarded as is.  Path is
// relative to the daemon's base URL and starts with '/'; it may carry a
// query string.
type Request struct {
	Method  string
	Path    string
	Headers []Header
	Body    []byte
	Timeout time.Duration // 0: Config.RequestTimeout or the daemon's
}

// Response is PhantomDB's answer, whatever its status.
type Response struct {
	Status      int
	ContentType string
	RequestID   string // X-Request-Id of the response, "" if none
	Body        []byte
}

// JSON decodes the body into v (numbers in interface values as
// json.Number, so that 64-bit ids stay exact).
func (r *Response) JSON(v any) error {
	d := json.NewDecoder(bytes.NewReader(r.Body))
	d.UseNumber()
	return d.Decode(v)
}

// requester sends one request: one-shot for a Pool, on the lease for a
// Client.
type requester interface {
	do(ctx context.Context, req *Request) (*Response, error)
}

// api holds the PhantomDB methods that Pool and Client share.
type api struct{ r requester }

// Database, Table and Column are PhantomDB's shapes.
type Database struct {
	Name      string   `json:"name"`
	CreatedAt string   `json:"createdAt"`
	Tables    []string `json:"tables"`
	Size      int64    `json:"size"`
}

type Table struct {
	Name      string   `json:"name"`
	Columns   []Column `json:"columns"`
	RowCount  int64    `json:"rowCount"`
	CreatedAt string   `json:"createdAt"`
	Indexes   []any    `json:"indexes"`
}

type Column struct {
	Name         string `json:"name"`
	Type         string `json:"type,omitempty"`
	Nullable     bool   `json:"nullable"`
	PrimaryKey   bool   `json:"primaryKey"`
	DefaultValue any    `json:"defaultValue,omitempty"`
}

// Row is one row as a JSON object (numbers as json.Number).
type Row = map[string]any

// Rows is the answer of GetRows.
type Rows struct {
	Rows  []Row `json:"rows"`
	Count int64 `json:"count"`
}

// RowsOptions are GetRows's query arguments; zero values are left out.
type RowsOptions struct {
	Where   string
	OrderBy string
	Limit   int
	Offset  int
}

// QueryResult is the answer of Query.
type QueryResult struct {
	Columns      []string `json:"columns"`
	Rows         [][]any  `json:"rows"`
	RowCount     int64    `json:"rowCount"`
	AffectedRows int64    `json:"affectedRows"`
}

// Request sends req and returns the response whatever its HTTP status;
// err is an *Error (PP_E* code) when no response arrived.
func (a api) Request(ctx context.Context, req Request) (*Response, error) {
	return a.r.do(ctx, &req)
}

var (
	acceptJSON  = []Header{{"Accept", "application/json"}}
	sendingJSON = []Header{{"Accept", "application/json"}, {"Content-Type", "application/json"}}
)

// call sends a JSON request, checks for a 2xx status (else *APIError)
// and decodes the body into out (if out is not nil and a body came).
func (a api) call(ctx context.Context, method, path string, in, out any) error {
	req := Request{Method: method, Path: path, Headers: acceptJSON}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		req.Body, req.Headers = b, sendingJSON
	}
	resp, err := a.r.do(ctx, &req)
	if err != nil {
		return err
	}
	op := method + " " + path
	if resp.Status < 200 || resp.Status > 299 {
		return apiError(op, resp)
	}
	if out == nil || len(resp.Body) == 0 {
		return nil
	}
	if err := resp.JSON(out); err != nil {
		return &APIError{Status: resp.Status, Code: "BAD_JSON", Message: err.Error(), Body: resp.Body, Op: op}
	}
	return nil
}

func apiError(op string, resp *Response) error {
	e := &APIError{Status: resp.Status, Body: resp.Body, Op: op}
	var b struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	}
	if json.Unmarshal(resp.Body, &b) == nil {
		e.Code, e.Message, e.Details = b.Code, b.Message, b.Details
	}
	return e
}

// seg escapes one path segment (a database, table or transaction name);
// an empty name is PP_EINVAL, as in the C helpers. url.PathEscape leaves
// dots alone, so a name that is exactly "." or ".." is sent as %2E or
// %2E%2E: as a dot segment pp_request would refuse it (PP_EBADPATH).
func seg(name, what string) (string, error) {
	if name == "" {
		return "", &Error{Code: -1, Op: what, Detail: "empty name"}
	}
	if name == "." || name == ".." {
		return strings.Repeat("%2E", len(name)), nil
	}
	return url.PathEscape(name), nil
}

// query builds "?k=v&..." from pairs, leaving out empty values; spaces
// are %20, not '+'.
func query(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		if b.Len() == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(kv[i])
		b.WriteByte('=')
		b.WriteString(strings.ReplaceAll(url.QueryEscape(kv[i+1]), "+", "%20"))
	}
	return b.String()
}

func dbPath(db string) (string, error) {
	d, err := seg(db, "database")
	return "/databases/" + d, err
}

func tablePath(db, table string) (string, error) {
	d, err := seg(db, "database")
	if err != nil {
		return "", err
	}
	t, err := seg(table, "table")
	return "/databases/" + d + "/tables/" + t, err
}

// Health is GET /health: {"status": "healthy"}.
func (a api) Health(ctx context.Context) (map[string]any, error) {
	var out map[string]any
	return out, a.call(ctx, "GET", "/health", nil, &out)
}

// ListDatabases is GET /databases.
func (a api) ListDatabases(ctx context.Context) ([]Database, error) {
	var out struct {
		Databases []Database `json:"databases"`
	}
	err := a.call(ctx, "GET", "/databases", nil, &out)
	return out.Databases, err
}

// CreateDatabase is POST /databases {"name", "options": {}}.  An existing
// database is an *APIError with Status 409.
func (a api) CreateDatabase(ctx context.Context, name string) (*Database, error) {
	if _, err := seg(name, "CreateDatabase"); err != nil {
		return nil, err
	}
	var out Database
	in := map[string]any{"name": name, "options": map[string]any{}}
	if err := a.call(ctx, "POST", "/databases", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetDatabase is GET /databases/{db}.
func (a api) GetDatabase(ctx context.Context, db string) (*Database, error) {
	p, err := dbPath(db)
	if err != nil {
		return nil, err
	}
	var out Database
	if err := a.call(ctx, "GET", p, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DropDatabase is DELETE /databases/{db}.
func (a api) DropDatabase(ctx context.Context, db string) error {
	p, err := dbPath(db)
	if err != nil {
		return err
	}
	return a.call(ctx, "DELETE", p, nil, nil)
}

// ListTables is GET /databases/{db}/tables.
func (a api) ListTables(ctx context.Context, db string) ([]Table, error) {
	p, err := dbPath(db)
	if err != nil {
		return nil, err
	}
	var out struct {
		Tables []Table `json:"tables"`
	}
	err = a.call(ctx, "GET", p+"/tables", nil, &out)
	return out.Tables, err
}

// CreateTable is POST /databases/{db}/tables {"name", "columns"}.
func (a api) CreateTable(ctx context.Context, db, table string, columns []Column) (*Table, error) {
	p, err := dbPath(db)
	if err == nil {
		_, err = seg(table, "table")
	}
	if err != nil {
		return nil, err
	}
	if columns == nil {
		columns = []Column{}
	}
	var out Table
	in := map[string]any{"name": table, "columns": columns}
	if err := a.call(ctx, "POST", p+"/tables", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetTable is GET /databases/{db}/tables/{table}.
func (a api) GetTable(ctx context.Context, db, table string) (*Table, error) {
	p, err := tablePath(db, table)
	if err != nil {
		return nil, err
	}
	var out Table
	if err := a.call(ctx, "GET", p, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DropTable is DELETE /databases/{db}/tables/{table}.
func (a api) DropTable(ctx context.Context, db, table string) error {
	p, err := tablePath(db, table)
	if err != nil {
		return err
	}
	return a.call(ctx, "DELETE", p, nil, nil)
}

// InsertRows is POST .../rows {"rows": rows}; it returns "inserted".
// rows is anything that marshals to a JSON array of objects
// ([]Row, []YourStruct...).
func (a api) InsertRows(ctx context.Context, db, table string, rows any) (int64, error) {
	p, err := tablePath(db, table)
	if err != nil {
		return 0, err
	}
	var out struct {
		Inserted int64 `json:"inserted"`
	}
	err = a.call(ctx, "POST", p+"/rows", map[string]any{"rows": rows}, &out)
	return out.Inserted, err
}

// GetRows is GET .../rows?where=&orderBy=&limit=&offset=.
func (a api) GetRows(ctx context.Context, db, table string, o RowsOptions) (*Rows, error) {
	p, err := tablePath(db, table)
	if err != nil {
		return nil, err
	}
	lim, off := "", ""
	if o.Limit != 0 {
		lim = strconv.Itoa(o.Limit)
	}
	if o.Offset != 0 {
		off = strconv.Itoa(o.Offset)
	}
	var out Rows
	q := query("where", o.Where, "orderBy", o.OrderBy, "limit", lim, "offset", off)
	if err := a.call(ctx, "GET", p+"/rows"+q, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Query is POST /databases/{db}/query {"query": sql, "parameters": params}.
func (a api) Query(ctx context.Context, db, sql string, params ...any) (*QueryResult, error) {
	p, err := dbPath(db)
	if err != nil {
		return nil, err
	}
	if sql == "" {
		return nil, &Error{Code: -1, Op: "Query", Detail: "empty SQL"}
	}
	if params == nil {
		params = []any{}
	}
	var out QueryResult
	if err := a.call(ctx, "POST", p+"/query", map[string]any{"query": sql, "parameters": params}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Insert is the seed clients' insert of one row: POST .../tables/{t} with
// the row object; it returns the answer ({"inserted": 1, "id": rowid}).
func (a api) Insert(ctx context.Context, db, table string, row any) (map[string]any, error) {
	p, err := tablePath(db, table)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, a.call(ctx, "POST", p, row, &out)
}

// Select is GET .../tables/{t}?condition= (condition "" selects all).
func (a api) Select(ctx context.Context, db, table, condition string) ([]Row, error) {
	p, err := tablePath(db, table)
	if err != nil {
		return nil, err
	}
	// ?condition= is always sent: without it the route describes the table.
	q := "?condition=" + strings.ReplaceAll(url.QueryEscape(condition), "+", "%20")
	var out struct {
		Records []Row `json:"records"`
	}
	err = a.call(ctx, "GET", p+q, nil, &out)
	return out.Records, err
}

// Update is PUT .../tables/{t} {"data": data, "condition": condition}; it
// returns "updated".
func (a api) Update(ctx context.Context, db, table string, data any, condition string) (int64, error) {
	p, err := tablePath(db, table)
	if err != nil {
		return 0, err
	}
	var out struct {
		Updated int64 `json:"updated"`
	}
	err = a.call(ctx, "PUT", p, map[string]any{"data": data, "condition": condition}, &out)
	return out.Updated, err
}

// Delete is DELETE .../tables/{t}?condition=; it returns "deleted".
func (a api) Delete(ctx context.Context, db, table, condition string) (int64, error) {
	p, err := tablePath(db, table)
	if err != nil {
		return 0, err
	}
	var out struct {
		Deleted int64 `json:"deleted"`
	}
	err = a.call(ctx, "DELETE", p+query("condition", condition), nil, &out)
	return out.Deleted, err
}

// Tx is a PhantomDB transaction, named by its id in the URL: its requests
// may travel on any connection (a Pool's one-shots) or on one (a Client).
type Tx struct {
	ID string
	a  api
}

// BeginTransaction is POST /transactions.
func (a api) BeginTransaction(ctx context.Context) (*Tx, error) {
	var out struct {
		ID string `json:"transaction_id"`
	}
	if err := a.call(ctx, "POST", "/transactions", nil, &out); err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, &APIError{Status: 200, Code: "BAD_JSON", Message: "no transaction_id in the answer", Op: "POST /transactions"}
	}
	return &Tx{ID: out.ID, a: a}, nil
}

// Commit is POST /transactions/{id}/commit.
func (t *Tx) Commit(ctx context.Context) error { return t.a.CommitTransaction(ctx, t.ID) }

// Rollback is POST /transactions/{id}/rollback.
func (t *Tx) Rollback(ctx context.Context) error { return t.a.RollbackTransaction(ctx, t.ID) }

// CommitTransaction is POST /transactions/{id}/commit.
func (a api) CommitTransaction(ctx context.Context, id string) error {
	s, err := seg(id, "transaction")
	if err != nil {
		return err
	}
	return a.call(ctx, "POST", "/transactions/"+s+"/commit", nil, nil)
}

// RollbackTransaction is POST /transactions/{id}/rollback.
func (a api) RollbackTransaction(ctx context.Context, id string) error {
	s, err := seg(id, "transaction")
	if err != nil {
		return err
	}
	return a.call(ctx, "POST", "/transactions/"+s+"/rollback", nil, nil)
}
