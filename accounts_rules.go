package tokenward

import (
	"context"
	"slices"
)

// accountOf returns the live account that identifier names, of the given kind ("" for
// either). ENotFound names the account the way the API's clients expect.
func (s *Service) accountOf(ctx context.Context, identifier string, kind AccountKind) (Account, error) {
	var id string
	var err error
	switch kind {
	case ServiceAccount:
		id, err = NormalizeServiceAccountID(identifier)
	case UserAccount:
		id, err = NormalizeEmail(identifier)
	default:
		id, err = NormalizeAccountID(identifier)
	}
	noun := map[AccountKind]string{ServiceAccount: "service account", UserAccount: "user", "": "account"}[kind]
	if err != nil {
		return Account{}, Errorf(ENotFound, "%s %s does not exist", noun, truncate(identifier, 64))
	}
	a, err := s.store.AccountByIdentifier(ctx, id)
	if err == nil && kind != "" && a.Kind != kind {
		err = Errorf(ENotFound, "")
	}
	if ErrorCode(err) == ENotFound {
		return Account{}, Errorf(ENotFound, "%s %s does not exist", noun, id)
	}
	return a, err
}

// reread returns an account as stored after a change.
func (s *Service) reread(ctx context.Context, a Account) (Account, error) {
	return s.store.AccountByIdentifier(ctx, a.Identifier)
}

// checkServicePermissions rejects permissions a service account may never hold.
func checkServicePermissions(perms PermissionSet) error {
	if perms.Has(TokenManagement) {
		return Errorf(EInvalid, "a service account cannot hold the %s permission: it never generates tokens for itself", TokenManagement)
	}
	return nil
}

// CreateUser creates a user account for an administrator. It has no password until the
// operator sets one (tokenward user set-password). Errors: EForbidden, EInvalid, EConflict.
func (s *Service) CreateUser(ctx context.Context, p Principal, email string, perms PermissionSet) (Account, error) {
	users, err := s.CreateUsers(ctx, p, []NewUser{{Email: email, Permissions: perms}})
	if err != nil {
		return Account{}, err
	}
	return users[0], nil
}

// NewUser is one user account to create: its email, direct permissions, roles and groups
// (ids; naming the Everyone group changes nothing, every user is in it).
type NewUser struct {
	Email         string
	Permissions   PermissionSet
	Roles, Groups []string
}

// CreateUsers creates user accounts for an administrator, all or none: an invalid entry,
// an unknown role or group, an email that exists or that appears twice creates nothing.
// They have no password until the operator sets one. Errors: EForbidden, EInvalid,
// ENotFound (a role or group), EConflict (an email that exists).
func (s *Service) CreateUsers(ctx context.Context, p Principal, users []NewUser) ([]Account, error) {
	if err := RequireAccounts(p); err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, Errorf(EInvalid, "name at least one user")
	}
	by := s.by(p)
	accounts := make([]*Account, len(users))
	seen := distinct[string]{}
	for i, u := range users {
		email, err := NormalizeEmail(u.Email)
		if err != nil {
			return nil, err
		}
		if err := seen.add(email, "account "+email); err != nil {
			return nil, err
		}
		a := &Account{Identifier: email, Kind: UserAccount, Active: true, Permissions: u.Permissions, Created: by.At}
		if a.Roles, err = s.roleIDs(ctx, u.Roles); err != nil {
			return nil, err
		}
		if a.Groups, err = s.groupIDs(ctx, u.Groups); err != nil {
			return nil, err
		}
		accounts[i] = a
	}
	if err := s.written(ctx, s.store.CreateAccounts(ctx, accounts, by)); err != nil {
		return nil, err
	}
	out := make([]Account, len(accounts))
	for i, a := range accounts {
		var err error
		if out[i], err = s.reread(ctx, *a); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AccountFor returns an account by identifier. Administrators may read any account; anyone
// may read their own. Errors: EForbidden, ENotFound.
func (s *Service) AccountFor(ctx context.Context, p Principal, identifier string, kind AccountKind) (Account, error) {
	a, err := s.accountOf(ctx, identifier, kind)
	if err == nil && a.ID == p.AccountID {
		return a, nil
	}
	if err := RequireAccounts(p); err != nil {
		return Account{}, err
	}
	return a, err
}

// SearchAccounts returns a page of accounts of kind ("" for both). Errors: EForbidden,
// EInvalid for a bad request.
func (s *Service) SearchAccounts(ctx context.Context, p Principal, kind AccountKind, req SearchRequest) (Page[Account], error) {
	return search(ctx, p, req, AccountSearch, func(ctx context.Context, req SearchRequest) (Page[Account], error) {
		return s.store.SearchAccounts(ctx, kind, req)
	})
}

// AllAccounts returns every account of kind, in identifier order, for the plain-list
// endpoints. Errors: EForbidden.
func (s *Service) AllAccounts(ctx context.Context, p Principal, kind AccountKind) ([]Account, error) {
	if err := RequireAccounts(p); err != nil {
		return nil, err
	}
	return s.allAccounts(ctx, kind)
}

// Administrators returns the identifiers of the user accounts holding user_management.
func (s *Service) Administrators(ctx context.Context, p Principal) ([]string, error) {
	users, err := s.AllAccounts(ctx, p, UserAccount)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, a := range users {
		if a.Effective.Has(UserManagement) {
			ids = append(ids, a.Identifier)
		}
	}
	return ids, nil
}

// UserWrite is an update of a user account; nil fields stay as they are.
type UserWrite struct {
	Permissions *PermissionSet // direct grants; replaces the set
	Roles       *[]string      // role ids; replaces the set
	Groups      *[]string      // group ids; replaces the set (Everyone is implied)
	Password    *string        // a new password; ends the account's console sessions
}

// UpdateUser changes a user account's direct permissions, roles, groups and password, in
// that order of checks; all of them or none. Errors: EForbidden, ENotFound, EInvalid (also
// when it would leave no administrator).
func (s *Service) UpdateUser(ctx context.Context, p Principal, email string, w UserWrite) (Account, error) {
	if err := RequireAccounts(p); err != nil {
		return Account{}, err
	}
	a, err := s.accountOf(ctx, email, UserAccount)
	if err != nil {
		return Account{}, err
	}
	change := AccountChange{ID: a.ID, Permissions: w.Permissions}
	if w.Roles != nil {
		roles, err := s.roleIDs(ctx, *w.Roles)
		if err != nil {
			return Account{}, err
		}
		change.Roles = &roles
	}
	if w.Groups != nil {
		groups, err := s.groupIDs(ctx, *w.Groups)
		if err != nil {
			return Account{}, err
		}
		change.Groups = &groups
	}
	var hash string
	if w.Password != nil {
		if hash, err = HashPassword(*w.Password); err != nil {
			return Account{}, err
		}
	}
	if change.Permissions != nil || change.Roles != nil || change.Groups != nil {
		if err := s.written(ctx, s.store.UpdateAccounts(ctx, []AccountChange{change}, s.by(p)), a.ID); err != nil {
			return Account{}, err
		}
	}
	if hash != "" {
		if err := s.store.SetPassword(ctx, a.ID, hash, s.by(p)); err != nil {
			return Account{}, err
		}
	}
	return s.reread(ctx, a)
}

// ChangeAccountRoles assigns roles to an account (or takes them away). Errors: EForbidden,
// ENotFound, EInvalid when no administrator would remain.
func (s *Service) ChangeAccountRoles(ctx context.Context, p Principal, identifier string, add bool, roleIDs []string) (Account, error) {
	if err := RequireAccounts(p); err != nil {
		return Account{}, err
	}
	a, err := s.accountOf(ctx, identifier, "")
	if err != nil {
		return Account{}, err
	}
	ids, err := s.roleIDs(ctx, roleIDs)
	if err != nil {
		return Account{}, err
	}
	roles := changeSet(a.Roles, ids, add)
	if err := s.written(ctx, s.store.UpdateAccounts(ctx, []AccountChange{{ID: a.ID, Roles: &roles}}, s.by(p)), a.ID); err != nil {
		return Account{}, err
	}
	return s.reread(ctx, a)
}

// ChangeAccountGroups adds an account to user groups (or removes it). The Everyone group
// is implied for user accounts and ignored here. Errors: EForbidden, ENotFound, EInvalid.
func (s *Service) ChangeAccountGroups(ctx context.Context, p Principal, identifier string, add bool, groupIDs []string) (Account, error) {
	if err := RequireAccounts(p); err != nil {
		return Account{}, err
	}
	a, err := s.accountOf(ctx, identifier, "")
	if err != nil {
		return Account{}, err
	}
	ids, err := s.groupIDs(ctx, groupIDs)
	if err != nil {
		return Account{}, err
	}
	current, err := s.groupIDs(ctx, a.Groups)
	if err != nil {
		return Account{}, err
	}
	groups := changeSet(current, ids, add)
	if err := s.written(ctx, s.store.UpdateAccounts(ctx, []AccountChange{{ID: a.ID, Groups: &groups}}, s.by(p)), a.ID); err != nil {
		return Account{}, err
	}
	return s.reread(ctx, a)
}

// distinct collects what a bulk request resolves to and refuses anything named twice:
// a request that repeats itself is a mistake its sender should see (issue "Hostile
// input"), and merging it silently would hide which of the two was meant.
type distinct[K comparable] map[K]bool

// add records key, which the request gave as what; EInvalid when it was already there.
func (d distinct[K]) add(key K, what string) error {
	if d[key] {
		return Errorf(EInvalid, "%s is named twice in this request", truncate(what, 80))
	}
	d[key] = true
	return nil
}

// changeSet returns set with ids added (or removed), without repeats.
func changeSet(set, ids []string, add bool) []string {
	out := []string{}
	for _, id := range set {
		if add || !slices.Contains(ids, id) {
			out = append(out, id)
		}
	}
	if add {
		for _, id := range ids {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// ValidateAccounts sorts identifiers into those of live accounts and the rest (reference
// §6 validateAccounts). Errors: EForbidden.
func (s *Service) ValidateAccounts(ctx context.Context, p Principal, identifiers []string, kind AccountKind) (valid []Account, invalid []string, err error) {
	if err := RequireAccounts(p); err != nil {
		return nil, nil, err
	}
	valid, invalid = []Account{}, []string{}
	for _, id := range identifiers {
		a, err := s.accountOf(ctx, id, kind)
		switch ErrorCode(err) {
		case "":
			valid = append(valid, a)
		case ENotFound:
			invalid = append(invalid, id)
		default:
			return nil, nil, err
		}
	}
	return valid, invalid, nil
}

// ChangePermission grants (or revokes) one permission on several accounts at once, all or
// none. Errors: EForbidden; ENotFound naming the first unknown account; EInvalid when a
// service account would get token_management or no administrator would remain.
func (s *Service) ChangePermission(ctx context.Context, p Principal, perm Permission, grant bool, identifiers []string) ([]Account, error) {
	if err := RequireAccounts(p); err != nil {
		return nil, err
	}
	if len(identifiers) == 0 {
		return nil, Errorf(EInvalid, "name at least one account")
	}
	accounts := make([]Account, 0, len(identifiers))
	changes := make([]AccountChange, 0, len(identifiers))
	seen := distinct[int64]{}
	for _, id := range identifiers {
		a, err := s.accountOf(ctx, id, "")
		if err != nil {
			return nil, err
		}
		if err := seen.add(a.ID, "account "+a.Identifier); err != nil {
			return nil, err
		}
		perms := a.Permissions &^ NewPermissionSet(perm)
		if grant {
			perms |= NewPermissionSet(perm)
		}
		if a.Kind == ServiceAccount {
			if err := checkServicePermissions(perms); err != nil {
				return nil, err
			}
		}
		accounts = append(accounts, a)
		changes = append(changes, AccountChange{ID: a.ID, Permissions: &perms})
	}
	ids := make([]int64, len(changes))
	for i, c := range changes {
		ids[i] = c.ID
	}
	if err := s.written(ctx, s.store.UpdateAccounts(ctx, changes, s.by(p)), ids...); err != nil {
		return nil, err
	}
	for i := range accounts {
		var err error
		if accounts[i], err = s.reread(ctx, accounts[i]); err != nil {
			return nil, err
		}
	}
	return accounts, nil
}

// DeleteAccounts deletes accounts (users or service accounts), revoking all their tokens
// and ending their sessions, all or none. Unknown identifiers are skipped when skipUnknown
// is true and are ENotFound otherwise. It returns the deleted accounts. Errors:
// EForbidden, ENotFound, EInvalid when no administrator would remain.
func (s *Service) DeleteAccounts(ctx context.Context, p Principal, identifiers []string, skipUnknown bool) ([]Account, error) {
	if err := RequireAccounts(p); err != nil {
		return nil, err
	}
	var accounts []Account
	var ids []int64
	seen := distinct[int64]{}
	for _, id := range identifiers {
		a, err := s.accountOf(ctx, id, "")
		if ErrorCode(err) == ENotFound && skipUnknown {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := seen.add(a.ID, "account "+a.Identifier); err != nil {
			return nil, err
		}
		accounts, ids = append(accounts, a), append(ids, a.ID)
	}
	if len(ids) == 0 {
		return []Account{}, nil
	}
	if err := s.written(ctx, s.store.DeleteAccounts(ctx, ids, s.by(p)), ids...); err != nil {
		return nil, err
	}
	return accounts, nil
}
