package tokenward

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"time"
)

// SavedSearch is a search a user saved, of one entity type. Query is the client's JSON
// object (a search name to an opaque string), kept verbatim.
type SavedSearch struct {
	ID         string
	EntityType string
	Query      string
	OwnerID    int64
	Owner      string
	Creator    string
	Updater    string
	Created    time.Time
	Updated    time.Time
}

// SavedSearchEntityTypes are the entity types a saved search may have.
var SavedSearchEntityTypes = []string{"TOKEN", "SERVICE_ACCOUNT", "USER", "ACCOUNT"}

// MaxSavedSearchQuery is the largest saved query accepted, in bytes.
const MaxSavedSearchQuery = 16 << 10

// MaxSavedSearchesPerOwner is how many saved searches one account may keep.
const MaxSavedSearchesPerOwner = 100

// SavedSearchStore is what saved searches need from the database.
type SavedSearchStore interface {
	// CreateSavedSearch stores s unless its owner already holds max saved searches
	// (EInvalid), counted in the same transaction.
	CreateSavedSearch(ctx context.Context, s SavedSearch, max int, by AuditEvent) error
	// SavedSearchOf returns the saved search with that id owned by ownerID, or ENotFound.
	SavedSearchOf(ctx context.Context, ownerID int64, id string) (SavedSearch, error)
	UpdateSavedSearch(ctx context.Context, s SavedSearch, by AuditEvent) error
	DeleteSavedSearch(ctx context.Context, ownerID int64, id string, by AuditEvent) error
	// SavedSearchesOf returns a page of ownerID's saved searches, of entityType unless "",
	// oldest first.
	SavedSearchesOf(ctx context.Context, ownerID int64, entityType string, offset, limit int) (Page[SavedSearch], error)
}

func checkSavedSearch(entityType, query string) (string, error) {
	entityType = strings.ToUpper(strings.TrimSpace(entityType))
	if !slices.Contains(SavedSearchEntityTypes, entityType) {
		return "", Errorf(EInvalid, "entityType must be one of %s", strings.Join(SavedSearchEntityTypes, ", "))
	}
	if err := CheckText("a saved query", query, MaxSavedSearchQuery); err != nil {
		return "", err
	}
	return entityType, nil
}

// CreateSavedSearch saves a search for the caller. Errors: EInvalid.
func (s *Service) CreateSavedSearch(ctx context.Context, p Principal, entityType, query string) (SavedSearch, error) {
	entityType, err := checkSavedSearch(entityType, query)
	if err != nil {
		return SavedSearch{}, err
	}
	by := s.by(p)
	ss := SavedSearch{ID: strings.ToLower(rand.Text()[:16]), EntityType: entityType, Query: query, OwnerID: p.AccountID,
		Owner: p.Account, Creator: p.Account, Updater: p.Account, Created: by.At, Updated: by.At}
	if err := s.savedSearches().CreateSavedSearch(ctx, ss, MaxSavedSearchesPerOwner, by); err != nil {
		return SavedSearch{}, err
	}
	return ss, nil
}

// SavedSearchOf returns one of the caller's saved searches. Errors: ENotFound, also for
// other users' searches.
func (s *Service) SavedSearchOf(ctx context.Context, p Principal, id string) (SavedSearch, error) {
	return s.savedSearches().SavedSearchOf(ctx, p.AccountID, id)
}

// UpdateSavedSearch replaces the entity type and query of one of the caller's saved
// searches (renaming is a new query). Errors: ENotFound, EInvalid.
func (s *Service) UpdateSavedSearch(ctx context.Context, p Principal, id, entityType, query string) (SavedSearch, error) {
	entityType, err := checkSavedSearch(entityType, query)
	if err != nil {
		return SavedSearch{}, err
	}
	ss, err := s.SavedSearchOf(ctx, p, id)
	if err != nil {
		return SavedSearch{}, err
	}
	by := s.by(p)
	ss.EntityType, ss.Query, ss.Updater, ss.Updated = entityType, query, p.Account, by.At
	if err := s.savedSearches().UpdateSavedSearch(ctx, ss, by); err != nil {
		return SavedSearch{}, err
	}
	return ss, nil
}

// DeleteSavedSearch deletes one of the caller's saved searches and returns it. Errors:
// ENotFound.
func (s *Service) DeleteSavedSearch(ctx context.Context, p Principal, id string) (SavedSearch, error) {
	ss, err := s.SavedSearchOf(ctx, p, id)
	if err != nil {
		return SavedSearch{}, err
	}
	return ss, s.savedSearches().DeleteSavedSearch(ctx, p.AccountID, id, s.by(p))
}

// SavedSearches returns a page of the caller's saved searches, of entityType unless "".
func (s *Service) SavedSearches(ctx context.Context, p Principal, entityType string, offset, limit int) (Page[SavedSearch], error) {
	if entityType != "" {
		var err error
		if entityType, err = checkSavedSearch(entityType, ""); err != nil {
			return Page[SavedSearch]{}, err
		}
	}
	req := SearchRequest{Offset: offset, Limit: limit}
	if err := req.Normalize(SearchSpec{DefaultSort: SearchSort{Field: "createdEpochMillis", Ascending: true}}); err != nil {
		return Page[SavedSearch]{}, err
	}
	return s.savedSearches().SavedSearchesOf(ctx, p.AccountID, entityType, req.Offset, req.Limit)
}

func (s *Service) savedSearches() SavedSearchStore { return s.store }
