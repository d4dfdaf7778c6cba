-- Roles and user groups (reference §11). An account's effective permissions are its own
-- (account_permissions), those of its roles (account_roles) and those of the roles of its
-- groups (group_members, group_roles); every user account is in the Everyone group
-- implicitly: that membership is not stored. Roles and groups are few, so their ids are
-- UUIDs as the API shows them.
CREATE TABLE roles (
    id          TEXT   PRIMARY KEY,
    name        TEXT   NOT NULL UNIQUE,
    description TEXT   NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT   NOT NULL DEFAULT ''
);
CREATE TABLE role_permissions (
    role_id    TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role_id, permission)
);
CREATE TABLE user_groups (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT    NOT NULL DEFAULT '',
    everyone    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT  NOT NULL
);
CREATE UNIQUE INDEX user_groups_one_everyone ON user_groups (everyone) WHERE everyone;
CREATE TABLE group_roles (
    group_id TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    role_id  TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, role_id)
);
CREATE INDEX group_roles_by_role ON group_roles (role_id, group_id);
CREATE TABLE group_members (
    group_id   TEXT   NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (group_id, account_id)
);
CREATE INDEX group_members_by_account ON group_members (account_id, group_id);
CREATE TABLE account_roles (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    role_id    TEXT   NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, role_id)
);
CREATE INDEX account_roles_by_role ON account_roles (role_id, account_id);

-- The built-in group of every user account, with a random UUID as its id.
INSERT INTO user_groups (id, name, description, everyone, created_at)
VALUES (gen_random_uuid()::text, 'Everyone', 'System group which contains all users', TRUE,
        (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
