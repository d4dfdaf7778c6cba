// Package gowavefront_test drives a real tokenward server with the unchanged Go management
// client github.com/WavefrontHQ/go-wavefront-management-api/v2 v2.2.1, the way Terraform's
// wavefront_service_account resource uses it (reference §4, §5, §9). It lives in its own
// module so that the main module does not depend on the client.
package gowavefront_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	wavefront "github.com/WavefrontHQ/go-wavefront-management-api/v2"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tokenward/tokenward"
	"github.com/tokenward/tokenward/internal/testkit"
)

// binary is the tokenward binary, built once from the repository root for the whole package.
var binary testkit.Binary

func TestMain(m *testing.M) {
	var remove func()
	var err error
	binary, remove, err = testkit.BuildBinary(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	remove()
	os.Exit(code)
}

var (
	secretPattern   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	publicIDPattern = regexp.MustCompile(`^tw_[a-z2-7]{16}$`)
)

const saID = "sa::terraform-test"

func TestServiceAccountLifecycle(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testServiceAccountLifecycle(t, filepath.Join(t.TempDir(), "tokenward.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		testServiceAccountLifecycle(t, postgresDSN(t))
	})
}

func testServiceAccountLifecycle(t *testing.T, dsn string) {
	dir := t.TempDir()
	srv := binary.Start(t, dir, dsn)
	out, errOut, code := binary.Run(t, dir, "", "token", "create", "admin@localhost", "--db", dsn)
	admin := strings.TrimSpace(out)
	if code != 0 || !secretPattern.MatchString(admin) {
		t.Fatalf("tokenward token create admin@localhost: exit %d, stdout %q, stderr %q; want exit 0 and only a UUID secret", code, out, errOut)
	}

	// A token made by the command line reaches the running server's index within the
	// documented propagation bound (one second).
	deadline := time.Now().Add(time.Second)
	for {
		status, _ := call(t, "GET", srv.URL+"/api/v2/apitoken", admin)
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command line's token: %d, want 200 within 1s", status)
		}
		time.Sleep(10 * time.Millisecond)
	}

	client, err := wavefront.NewClient(&wavefront.Config{Address: srv.URL, Token: admin})
	if err != nil {
		t.Fatalf("wavefront.NewClient: %v", err)
	}
	accounts, tokens := client.ServiceAccounts(), client.Tokens()

	// Create. The client sends "active": false (ServiceAccountOptions.Active has no
	// omitempty), so the account starts inactive.
	sa, err := accounts.Create(&wavefront.ServiceAccountOptions{
		ID:          saID,
		Description: "created by the go-wavefront client test",
		Permissions: []string{string(tokenward.Ingestion)},
	})
	if err != nil {
		t.Fatalf("ServiceAccounts().Create: %v", err)
	}
	if sa.ID != saID {
		t.Errorf("Create: identifier: got %q, want %q", sa.ID, saID)
	}
	if sa.Description != "created by the go-wavefront client test" {
		t.Errorf("Create: description: got %q, want %q", sa.Description, "created by the go-wavefront client test")
	}
	if want := []string{"ingestion"}; !slices.Equal(sa.Permissions, want) {
		t.Errorf("Create: groups: got %q, want %q", sa.Permissions, want)
	}
	if sa.Active {
		t.Errorf("Create: active: got true, want false (the client sent \"active\": false)")
	}
	if len(sa.Tokens) != 0 {
		t.Errorf("Create: tokens: got %+v, want none", sa.Tokens)
	}

	// Generate a token named main: the response lists every token, the new one last,
	// with its secret as the id.
	list, err := tokens.Create(saID, &wavefront.TokenOptions{Name: "main"})
	if err != nil {
		t.Fatalf("Tokens().Create: %v", err)
	}
	if len(list) != 1 {
		t.Fatalf("Tokens().Create: got %d tokens %+v, want 1", len(list), list)
	}
	created := list[len(list)-1]
	if created.Name != "main" {
		t.Errorf("Tokens().Create: last token's name: got %q, want %q", created.Name, "main")
	}
	secret := created.ID
	if !secretPattern.MatchString(secret) {
		t.Fatalf("Tokens().Create: last token's id: got %q, want the secret, a UUID", secret)
	}

	// The admin's raw listing shows the token under its public id, never the secret.
	status, c := call(t, "GET", srv.URL+"/api/v2/apitoken/serviceaccount/"+saID, admin)
	if status != http.StatusOK {
		t.Fatalf("GET apitoken/serviceaccount/%s as admin: got HTTP %d %v, want 200", saID, status, c)
	}
	raw := testkit.ResponseList(t, c)
	if len(raw) != 1 {
		t.Fatalf("GET apitoken/serviceaccount/%s: got %d tokens %v, want 1", saID, len(raw), raw)
	}
	publicID, _ := raw[0]["tokenID"].(string)
	if !publicIDPattern.MatchString(publicID) {
		t.Errorf("GET apitoken/serviceaccount/%s: tokenID: got %q, want a public id tw_ + 16 base32 characters", saID, publicID)
	}
	if publicID == secret {
		t.Errorf("GET apitoken/serviceaccount/%s: tokenID is the secret, want the public id", saID)
	}
	if got := raw[0]["tokenName"]; got != "main" {
		t.Errorf("GET apitoken/serviceaccount/%s: tokenName: got %v, want %q", saID, got, "main")
	}
	if got := raw[0]["account"]; got != saID {
		t.Errorf("GET apitoken/serviceaccount/%s: account: got %v, want %q", saID, got, saID)
	}
	if got, want := raw[0]["accountType"], string(tokenward.TypeInactiveServiceAccount); got != want {
		t.Errorf("GET apitoken/serviceaccount/%s: accountType: got %v, want %q (the account is inactive)", saID, got, want)
	}

	// The secret is a real credential: refused (401) while the account is inactive,
	// authenticated once it is active (see below). A made-up secret is the control.
	probe := srv.URL + "/api/v2/apitoken/serviceaccount/" + saID
	if status, c := call(t, "GET", probe, "00000000-0000-4000-8000-000000000000"); status != http.StatusUnauthorized {
		t.Errorf("GET with an unknown secret: got HTTP %d %v, want 401", status, c)
	}
	if status, c := call(t, "GET", probe, secret); status != http.StatusUnauthorized {
		t.Errorf("GET with the token of the inactive service account: got HTTP %d %v, want 401", status, c)
	}

	// Read: the token appears under its public id.
	sa, err = accounts.GetByID(saID)
	if err != nil {
		t.Fatalf("ServiceAccounts().GetByID after token create: %v", err)
	}
	if len(sa.Tokens) != 1 {
		t.Fatalf("GetByID after token create: got tokens %+v, want one named main", sa.Tokens)
	}
	if sa.Tokens[0].Name != "main" {
		t.Errorf("GetByID after token create: token name: got %q, want %q", sa.Tokens[0].Name, "main")
	}
	if sa.Tokens[0].ID != publicID {
		t.Errorf("GetByID after token create: token id: got %q, want the public id %q", sa.Tokens[0].ID, publicID)
	}

	// Update: new description and activate. Permissions are nil, so the client omits
	// "groups", and an absent key leaves the field unchanged (reference §5).
	sa, err = accounts.Update(&wavefront.ServiceAccountOptions{ID: saID, Description: "updated by the go-wavefront client test", Active: true})
	if err != nil {
		t.Fatalf("ServiceAccounts().Update: %v", err)
	}
	checkUpdated(t, "Update", sa, publicID)
	if sa, err = accounts.GetByID(saID); err != nil {
		t.Fatalf("ServiceAccounts().GetByID after Update: %v", err)
	}
	checkUpdated(t, "GetByID after Update", sa, publicID)

	// Active now: the secret authenticates. It lacks user_management, so the listing is
	// refused with 403 (authenticated, not permitted), not 401.
	if status, c := call(t, "GET", probe, secret); status != http.StatusForbidden {
		t.Errorf("GET with the token of the active service account (permission ingestion only): got HTTP %d %v, want 403", status, c)
	}

	// Search by identifier.
	found, err := accounts.Find([]*wavefront.SearchCondition{{Key: "identifier", Value: saID, MatchingMethod: "EXACT"}})
	if err != nil {
		t.Fatalf("ServiceAccounts().Find: %v", err)
	}
	if len(found) != 1 {
		t.Fatalf("Find identifier EXACT %s: got %d accounts %+v, want 1", saID, len(found), found)
	}
	if found[0].ID != saID {
		t.Errorf("Find: identifier: got %q, want %q", found[0].ID, saID)
	}
	if found[0].Description != "updated by the go-wavefront client test" || !found[0].Active {
		t.Errorf("Find: got description %q active %v, want %q active true", found[0].Description, found[0].Active, "updated by the go-wavefront client test")
	}

	// Rename the token by its public id.
	renamed, err := tokens.Update(saID, &wavefront.TokenOptions{ID: publicID, Name: "renamed"})
	if err != nil {
		t.Fatalf("Tokens().Update: %v", err)
	}
	if renamed.Name != "renamed" {
		t.Errorf("Tokens().Update: name: got %q, want %q", renamed.Name, "renamed")
	}
	if renamed.ID != publicID {
		t.Errorf("Tokens().Update: id: got %q, want the public id %q", renamed.ID, publicID)
	}
	sa, err = accounts.GetByID(saID)
	if err != nil {
		t.Fatalf("ServiceAccounts().GetByID after token rename: %v", err)
	}
	if len(sa.Tokens) != 1 || sa.Tokens[0].Name != "renamed" {
		t.Errorf("GetByID after token rename: got tokens %+v, want one named renamed", sa.Tokens)
	}

	// Delete (revoke) the token.
	if err := tokens.Delete(saID, publicID); err != nil {
		t.Fatalf("Tokens().Delete: %v", err)
	}
	sa, err = accounts.GetByID(saID)
	if err != nil {
		t.Fatalf("ServiceAccounts().GetByID after token delete: %v", err)
	}
	if len(sa.Tokens) != 0 {
		t.Errorf("GetByID after token delete: got tokens %+v, want none", sa.Tokens)
	}
	if status, c := call(t, "GET", probe, secret); status != http.StatusUnauthorized {
		t.Errorf("GET with the deleted token: got HTTP %d %v, want 401", status, c)
	}

	// Delete the account; reading it again is "not found".
	if err := accounts.DeleteByID(saID); err != nil {
		t.Fatalf("ServiceAccounts().DeleteByID: %v", err)
	}
	gone, err := accounts.GetByID(saID)
	if err == nil {
		t.Fatalf("GetByID after DeleteByID: got %+v and no error, want a not-found error", gone)
	}
	if !wavefront.NotFound(err) {
		t.Errorf("GetByID after DeleteByID: wavefront.NotFound(%q) is false, want true", err)
	}
}

// checkUpdated checks the account as the Update step left it.
func checkUpdated(t *testing.T, step string, sa *wavefront.ServiceAccount, publicID string) {
	t.Helper()
	if sa.ID != saID {
		t.Errorf("%s: identifier: got %q, want %q", step, sa.ID, saID)
	}
	if sa.Description != "updated by the go-wavefront client test" {
		t.Errorf("%s: description: got %q, want %q", step, sa.Description, "updated by the go-wavefront client test")
	}
	if !sa.Active {
		t.Errorf("%s: active: got false, want true", step)
	}
	if want := []string{"ingestion"}; !slices.Equal(sa.Permissions, want) {
		t.Errorf("%s: groups: got %q, want %q (absent from the PUT body, so unchanged)", step, sa.Permissions, want)
	}
	if len(sa.Tokens) != 1 || sa.Tokens[0].ID != publicID || sa.Tokens[0].Name != "main" {
		t.Errorf("%s: tokens: got %+v, want the one token {ID:%s Name:main}", step, sa.Tokens, publicID)
	}
}

// postgresDSN returns the dsn of a fresh database on the server TOKENWARD_TEST_POSTGRES
// names, dropped when the test ends. Without the variable it skips, or fails under CI=true.
func postgresDSN(t *testing.T) string {
	t.Helper()
	adminDSN := os.Getenv("TOKENWARD_TEST_POSTGRES")
	if adminDSN == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("TOKENWARD_TEST_POSTGRES is not set under CI=true: the PostgreSQL client test must run in CI")
		}
		t.Skip("TOKENWARD_TEST_POSTGRES not set; set it to a postgres:// URL to include PostgreSQL")
	}
	u, err := url.Parse(adminDSN)
	if err != nil {
		t.Fatalf("parse TOKENWARD_TEST_POSTGRES: %v", err)
	}
	conn, err := sql.Open("pgx", adminDSN)
	if err != nil {
		t.Fatalf("open postgres admin connection: %v", err)
	}
	defer conn.Close()
	name := "tw_client_" + strings.ToLower(rand.Text()[:12])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		conn, err := sql.Open("pgx", adminDSN)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// call sends a bodiless API request with a bearer token and decodes the response container.
func call(t *testing.T, method, url, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	var c map[string]any
	if err := json.NewDecoder(res.Body).Decode(&c); err != nil {
		t.Fatalf("%s %s: body is not JSON: %v", method, url, err)
	}
	return res.StatusCode, c
}
