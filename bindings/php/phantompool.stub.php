<?php

/**
 * The API of the phantompool extension, as PHP declarations (for IDEs and
 * static analysers; the extension defines these classes itself).  The
 * arginfo in client_arginfo.h and pool_arginfo.h is written to match this
 * file; tests/api_reflection.phpt checks the two against each other.
 *
 * @generate-class-entries never: the arginfo is written by hand
 */

namespace PhantomPool {

    /** libphantompool's pp_version() (major * 10000 + minor * 100 + patch). */
    const LIBRARY_VERSION = 100;
    /** This extension's version. */
    const VERSION = "0.1.0";

    final class Pool
    {
        /**
         * Use the pool $name (null: php.ini phantompool.default_pool, else
         * $PHANTOMPOOL, else "default").  Attaches on the first use of the
         * name in this process, and keeps the attachment for the life of
         * the process (every later Pool of that name, in any web request,
         * shares it).
         * @throws Exception PP_ENAME, PP_ENOPOOL, PP_EACCES, PP_EDAEMON...
         */
        public function __construct(?string $name = null) {}

        /** The pool's name. */
        public function getName(): string {}

        /**
         * Lease a seat: wait up to $timeoutMs (null: php.ini
         * phantompool.acquire_timeout_ms; 0: don't wait; negative: forever).
         * @throws TimeoutException PP_ETIMEDOUT
         * @throws Exception PP_EDAEMON, PP_ESHUTDOWN
         */
        public function acquire(?int $timeoutMs = null): Client {}

        /** $client->release(), for code written for the seed pools. */
        public function release(Client $client): void {}

        /**
         * One request on a seat leased for it alone (pp_do: lease, request,
         * release; the lease waits up to the daemon's acquire timeout).
         * @param array<string,string>|null $headers
         * @return array{status:int, contentType:string, requestId:string, body:string}
         */
        public function request(string $method, string $path, ?array $headers = null,
                                ?string $body = null, int $timeoutMs = 0): array {}

        /**
         * The pool's figures: available, used, min, max, waiting,
         * daemon_pid, generation (16 hex digits), leases, lease_timeouts,
         * reclaims, lease_waits, lease_wait_p50_ns, lease_wait_p99_ns,
         * lease_wait_max_ns, requests, errors, bytes_in, bytes_out,
         * connects, reconnects, health_checks, health_failures,
         * backend_failovers, backend_index, backend_up, uptime_ns, conns_max,
         * conns_open, conns_busy, queued, queue_waits, queue_wait_p50_ns,
         * queue_wait_p99_ns, queue_wait_max_ns.
         */
        public function getStatus(): array {}

        /**
         * This process's side: pid, attaches (pp_attach calls that
         * succeeded in this process), attach_failures, shutdown_releases
         * (leases still held at the end of a web request, released then),
         * pools (names attached).
         */
        public static function processStats(): array {}
    }

    /** A leased seat; from Pool::acquire() only. */
    final class Client
    {
        /** @return array{status:int, contentType:string, requestId:string, body:string} */
        public function request(string $method, string $path, ?array $headers = null,
                                ?string $body = null, int $timeoutMs = 0): array {}
        public function health(): array {}
        public function listDatabases(): array {}
        public function createDatabase(string $name, array $options = []): array {}
        public function getDatabase(string $db): array {}
        public function dropDatabase(string $db): array {}
        public function listTables(string $db): array {}
        public function createTable(string $db, string $table, array $columns): array {}
        public function getTable(string $db, string $table): array {}
        public function dropTable(string $db, string $table): array {}
        public function insert(string $db, string $table, array $row): array {}
        public function insertRows(string $db, string $table, array $rows): array {}
        public function select(string $db, string $table, ?string $condition = null): array {}
        public function getRows(string $db, string $table, ?string $where = null, ?string $orderBy = null,
                                int $limit = 0, int $offset = 0): array {}
        public function update(string $db, string $table, array $data, string $condition): array {}
        public function delete(string $db, string $table, string $condition): array {}
        public function query(string $db, string $sql, array $params = []): array {}
        public function beginTransaction(): string {}
        public function commitTransaction(string $transactionId): array {}
        public function rollbackTransaction(string $transactionId): array {}
        /** @throws Exception PP_ERELEASED on a second call, PP_ELOST */
        public function release(): void {}
        public function isReleased(): bool {}
        /** The seat's index (for logs), -1 once released. */
        public function slot(): int {}
    }

    /** A libphantompool error: getCode() is the PP_E* code (negative). */
    class Exception extends \RuntimeException
    {
        protected $errorName = "";
        /** "PP_EDAEMON"; for HttpException PhantomDB's error code. */
        public function getErrorName(): string {}
    }

    /** PP_ETIMEDOUT. */
    class TimeoutException extends Exception {}

    /** A status outside 2xx: getCode() is the HTTP status (positive). */
    class HttpException extends Exception
    {
        protected $body = "";
        protected $error = null;
        public function getStatus(): int {}
        public function getBody(): string {}
        public function getError(): ?array {}
    }
}
