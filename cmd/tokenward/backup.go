package main

import (
	"github.com/spf13/cobra"

	"github.com/tokenward/tokenward/internal/store"
)

// backupCommand: tokenward backup FILE. An online, consistent copy of a SQLite database.
func (c *cli) backupCommand() *cobra.Command {
	cmd := leaf(&cobra.Command{Use: "backup FILE", Short: "Copy a SQLite database, consistently, while servers run",
		Long: `Write a consistent copy of the SQLite database to FILE, which must not exist, while
servers keep running. PostgreSQL databases are backed up with pg_dump.`,
		Example: `  tokenward backup /backups/tokenward-$(date +%F).db`,
		Args:    exactArgs("FILE")})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		db, err := store.Open(cmd.Context(), *dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := db.Backup(cmd.Context(), args[0]); err != nil {
			return err
		}
		return c.report(*out, map[string]string{"database": *dsn, "backup": args[0]}, "backed up %s to %s", *dsn, args[0])
	}
	return cmd
}

// restoreCommand: tokenward restore FILE. Replaces a SQLite database with a backup; it
// refuses while a server holds the database.
func (c *cli) restoreCommand() *cobra.Command {
	cmd := leaf(&cobra.Command{Use: "restore FILE", Short: "Replace a SQLite database with a backup; servers must be stopped",
		Long: `Replace the SQLite database with the backup FILE, after checking that FILE is an intact
tokenward database. It refuses while a tokenward server runs on the database (servers hold
a lock on DB.lock beside it): stop every server first. PostgreSQL databases are restored
with pg_restore.`,
		Example: `  tokenward restore /backups/tokenward-2026-11-29.db`,
		Args:    exactArgs("FILE")})
	dsn, out := c.dbFlag(cmd), outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		target, ok := sqlitePath(*dsn)
		if !ok {
			return store.ErrBackupPostgres
		}
		release, err := takeRestoreLock(target)
		if err != nil {
			return err
		}
		defer release()
		if err := store.Restore(cmd.Context(), args[0], target); err != nil {
			return err
		}
		return c.report(*out, map[string]string{"database": target, "backup": args[0]}, "restored %s from %s", target, args[0])
	}
	return cmd
}
