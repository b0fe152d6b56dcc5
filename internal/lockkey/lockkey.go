// Package lockkey holds the SQL of the deploy lock's key, so that the engine
// (which takes and releases the lock) and pkg/connect (which looks for it
// before --overwrite drops a database) build it from one definition without
// connect importing the engine. It imports nothing.
package lockkey

// SQL is the SQL expression of the deploy lock's key for the database whose
// name the SQL expression db yields (current_database(), a parameter such as
// $1): pgmi's session advisory lock, one bigint key per database name.
func SQL(db string) string {
	return "hashtextextended('pgmi.deploy.' || " + db + ", 0)"
}
