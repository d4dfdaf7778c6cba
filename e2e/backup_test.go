package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupAndRestore backs up a SQLite database while the server runs, changes it, then
// restores the backup: the state at backup time comes back, later changes are gone.
func TestBackupAndRestore(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "tokenward.db")
	backup := filepath.Join(dir, "backup.db")
	srv := binary.Start(t, dir, dsn)
	out, _, _ := binary.Run(t, dir, "", "token", "create", "admin@localhost", "--name", "before", "--db", dsn)
	before := strings.TrimSpace(out)
	if _, errOut, code := binary.Run(t, dir, "", "serviceaccount", "create", "sa::kept", "--db", dsn); code != 0 {
		t.Fatal(errOut)
	}
	if _, errOut, code := binary.Run(t, dir, "", "backup", backup, "--db", dsn); code != 0 {
		t.Fatalf("backup while serving: exit %d: %s", code, errOut)
	}
	if _, errOut, code := binary.Run(t, dir, "", "backup", backup, "--db", dsn); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("backup over an existing file: exit %d, %q", code, errOut)
	}
	out, _, _ = binary.Run(t, dir, "", "token", "create", "admin@localhost", "--name", "after", "--db", dsn)
	after := strings.TrimSpace(out)
	awaitStatus(t, srv.URL+"/auth/verify", before, 200)
	// Revoke the first token after the backup: the restore brings it back.
	if status, _ := call(t, "DELETE", srv.URL+"/api/v2/apitoken/"+before, before, ""); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	srv.Stop(t)

	if _, errOut, code := binary.Run(t, dir, "", "restore", filepath.Join(dir, "nope.db"), "--db", dsn); code != 1 {
		t.Errorf("restore of a missing file: exit %d, %q", code, errOut)
	}
	if _, errOut, code := binary.Run(t, dir, "", "restore", backup, "--db", dsn); code != 0 {
		t.Fatalf("restore: exit %d: %s", code, errOut)
	}
	srv = binary.Start(t, dir, dsn)
	if status, _ := call(t, "GET", srv.URL+"/auth/verify", before, ""); status != 200 {
		t.Errorf("token from before the backup: %d, want 200", status)
	}
	if status, _ := call(t, "GET", srv.URL+"/auth/verify", after, ""); status != 401 {
		t.Errorf("token made after the backup: %d, want 401", status)
	}
	if status, _ := call(t, "GET", srv.URL+"/api/v2/account/serviceaccount/sa::kept", before, ""); status != 200 {
		t.Errorf("service account from before the backup: %d, want 200", status)
	}
	if _, errOut, code := binary.Run(t, dir, "", "backup", filepath.Join(dir, "x.db"), "--db", "postgres://u@127.0.0.1:1/x"); code != 1 || !strings.Contains(errOut, "postgres") {
		t.Errorf("backup of PostgreSQL: exit %d, %q", code, errOut)
	}
}
