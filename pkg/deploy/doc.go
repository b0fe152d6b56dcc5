// Package deploy is the pipeline every function and pgmi local run: a
// Request (a bundle URL and version, or a reset of a database) goes through
//
//	fetch → verify → scan → connect → advisory lock → ledger check → engine → ledger record → result object
//
// over exactly one database session, and comes back as an Outcome the
// adapter maps onto its platform.
//
// # Configuration
//
// LoadConfig reads the environment once, at cold start: the connection
// variables of the CLI (PGHOST … PGMI_CONNECTION_STRING, PGMI_AUTH and the
// cloud settings; each function passes its own cloud as DefaultAuth) and
//
//	PGMI_ROUTES              JSON list of {prefix, database, params}; unset: every key → the target database
//	PGMI_TRUSTED_SIGNERS     allowed_signers text (or PGMI_TRUSTED_SIGNERS_URL, a blob URL read at cold start
//	                         and again when its copy is older than PGMI_TRUSTED_SIGNERS_TTL, default 5m)
//	PGMI_ALLOW_UNSIGNED      true to accept unsigned bundles (never the default)
//	PGMI_RESET_ALLOW         databases a reset may drop and recreate (comma or space separated; empty: none)
//	PGMI_RESULTS_PREFIX      where result objects go in the bundle's bucket (default pgmi-results/)
//	PGMI_TIMEOUT_MARGIN      stop this long before the platform's deadline (default 10s)
//	PGMI_TIMEOUT             the deadline when the platform gives none (default 15m)
//	PGMI_LOCK_WAIT           how long to wait for a database another deploy holds (default 30s)
//	PGMI_LEDGER_TABLE        the ledger, schema.table (default pgmi_ledger.deployments)
//	PGMI_BUCKET_URL_PARAMS   query parameters added to every bucket URL (endpoints, emulators)
//	PGMI_MAX_RATIO, …        bundle limits (bundle.LimitSettings: PGMI_MAX_TOTAL_SIZE, PGMI_MAX_FILES, …), the ones pgmi bundle packs under
//
// A key removed from PGMI_TRUSTED_SIGNERS_URL's object stops deploying
// within PGMI_TRUSTED_SIGNERS_TTL on warm instances; a bundle whose signer
// the cached copy refuses makes the deployer read the object once more
// before the refusal stands, so a key added just before its first bundle is
// trusted at once. When the object cannot be read again the deploy fails
// (retryable when the store's error is) rather than trusting the old copy.
//
// A bad value is an fault.Config error naming the variable. So is one
// that would fail every event later: a database name (route, target,
// PGMI_RESET_ALLOW) over 63 bytes, not UTF-8 or holding a control
// character, a template database, the maintenance database in
// PGMI_RESET_ALLOW, a ledger named with a PostgreSQL reserved word or in a
// system schema, a PGMI_TRUSTED_SIGNERS_URL object over 1 MiB.
//
// # Targets
//
// The configuration alone decides where a bundle deploys: the database of
// its key's route. A Request's Database, from an action payload, may only
// repeat it, and never names a template or the maintenance database; a
// reset only drops a database in PGMI_RESET_ALLOW. A refusal is permanent,
// fault.Config (exit 10).
//
// # The ledger
//
// Each target database holds a ledger table, created on first use under
// the deploy lock: one row per bundle identity (object URL, version, SHA-256
// of the archive) and action, and for a reset its scheduled run (a deploy
// payload's schedule is not part of it), with status running, succeeded or
// failed. A failed row's error is recorded, and read back (reports,
// History), without secrets (fault.Redact).
// The pipeline holds the database's deploy lock (the engine's own advisory
// lock, so the pgmi CLI and the functions exclude each other) from the
// ledger check until the row is final; a delivery that finds it busy waits
// within PGMI_LOCK_WAIT. Under the lock, a request whose row succeeded, or
// failed for good (a SQL error, a bad bundle), is a duplicate and does not
// run again; a row that failed for a retryable reason, or is still running
// (its deployer died: a live one would hold the lock), is taken over. A
// request with a sequencer older than the newest one the ledger holds for
// the same object URL is stale and skipped; a takeover keeps the newer of
// the row's sequencer and the request's (a re-run payload carries none).
//
// A reset follows the same rules for its scheduled run: a redelivery of a
// run that succeeded or failed for good is a duplicate, and a retry of one
// that failed retryably (or whose deployer died) redeploys the bundle that
// run chose. The bundle gets the params of its key's route, as a deploy
// of that key does.
//
// Each attempt claims its row with a random token and gives the engine a
// Journal whose marks record, in the row, how many deploy.sql execution
// units committed: the atomic head's mark commits inside the head's own
// transaction, a tail transaction's before its COMMIT, an autocommit tail
// statement's right after it. A takeover resumes after them, so the head
// runs exactly once and each tail unit at least once (only the statement in
// flight when the deployer died may run twice). docs/operations.md says
// this for operators.
//
// # Outcomes
//
// deployed, duplicate, stale, ignored (no route; result objects themselves)
// or failed. A failure is Retryable when delivering the event again can
// succeed: the database unreachable or busy, the deadline, the session lost
// mid-deploy (fault.ErrSessionLost), a transient storage error. Adapters return those to the platform and acknowledge
// everything else, so a failing deploy is reported once, not re-run.
//
// Every outcome except a result object's own event leaves a Report in the
// bundle's bucket, named by ResultName (<PGMI_RESULTS_PREFIX><key>.<version>.json;
// resets name their database). The run that executed writes it, and only a
// later attempt that executed (a takeover) replaces it; any other outcome
// writes it only where none is yet (a conditional write) and otherwise
// points at the standing one (Outcome.ResultKept). A storage error while
// writing it leaves the outcome as it is, with Outcome.ResultErr saying why.
//
// # Memory
//
// A bundle of at most SpoolLimit (32 MiB) is downloaded once: verification
// reads the download as it arrives, and it is held in memory for the
// engine's reads; a larger one is read from the bucket for each pass,
// pinned to the same version, with only the reader's buffers in memory.
// What verification inflates, up to the bundle cache (16 MiB), the engine
// reads from memory with the digests verification computed, so a bundle
// within it is inflated and hashed once.
//
// # Time
//
// The deadline is the platform's minus PGMI_TIMEOUT_MARGIN (default 10 s: it
// must cover the cancel's grace, engine.CancelGrace = 5 s, and the ledger
// and result writes after it); when it passes
// the engine cancels the running statement on the server and waits for the
// server to confirm (engine.CancelGrace), so the ledger row is recorded on
// the same session before the answer. The engine sets
// client_connection_check_interval (PostgreSQL 14+) so a backend whose
// function vanished stops instead of running on.
package deploy
