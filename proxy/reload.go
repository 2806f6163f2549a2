package proxy

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/osslcache/osslcache/ossl"
	"github.com/osslcache/osslcache/store/redisstore"
)

// loaded describes what the files of a Config held when they were last
// read (no key material but the ticket key names, which every ticket
// carries in the clear).
type loaded struct {
	leaf           *x509.Certificate
	ticketKeyNames []string // hex of each key's 16-byte name, the sealing one first
	redisKeys      redisstore.Keyring
}

// keyFiles is what loadFiles read: the key material, handed to the context
// and the store, then dropped.
type keyFiles struct {
	certPEM, keyPEM []byte
	ticketKeys      []ossl.TicketKey
	redisKeys       redisstore.Keyring
	info            loaded
}

// loadFiles reads every file of cfg, for New.
func loadFiles(cfg Config) (*keyFiles, error) {
	f := &keyFiles{}
	var err error
	if f.certPEM, f.keyPEM, f.info.leaf, err = readCertificate(cfg.CertFile, cfg.KeyFile); err != nil {
		return nil, err
	}
	if cfg.TicketKeyFile != "" {
		if f.ticketKeys, err = ReadTicketKeyFile(cfg.TicketKeyFile); err != nil {
			return nil, fmt.Errorf("ticket key file: %w", err)
		}
		f.info.ticketKeyNames = ticketKeyNames(f.ticketKeys)
	}
	if cfg.RedisKeyFile != "" {
		if f.redisKeys, err = ReadKeyFile(cfg.RedisKeyFile, cfg.Logger); err != nil {
			return nil, fmt.Errorf("redis key file: %w", err)
		}
		f.info.redisKeys = f.redisKeys
	}
	return f, nil
}

// readCertificate reads a PEM chain and key, and parses the leaf (for
// logs and metrics; libssl checks the pair when it loads it).
func readCertificate(certFile, keyFile string) (certPEM, keyPEM []byte, leaf *x509.Certificate, err error) {
	if certPEM, err = os.ReadFile(certFile); err != nil {
		return nil, nil, nil, fmt.Errorf("certificate: %w", err)
	}
	if keyPEM, err = os.ReadFile(keyFile); err != nil {
		return nil, nil, nil, fmt.Errorf("certificate key: %w", err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, nil, fmt.Errorf("certificate %s: no PEM CERTIFICATE block first", certFile)
	}
	if leaf, err = x509.ParseCertificate(block.Bytes); err != nil {
		return nil, nil, nil, fmt.Errorf("certificate %s: %w", certFile, err)
	}
	return certPEM, keyPEM, leaf, nil
}

func ticketKeyNames(keys []ossl.TicketKey) []string {
	names := make([]string, len(keys))
	for i := range keys {
		names[i] = hex.EncodeToString(keys[i][:16])
	}
	return names
}

func (f *keyFiles) wipe() {
	clear(f.keyPEM)
	for i := range f.ticketKeys {
		clear(f.ticketKeys[i][:])
	}
}

// certAttrs describes a certificate for the log.
func certAttrs(file string, c *x509.Certificate) []any {
	fp := sha256.Sum256(c.Raw)
	return []any{"file", file, "subject", c.Subject.String(), "dns_names", c.DNSNames,
		"not_after", c.NotAfter.UTC().Format(time.RFC3339), "sha256", hex.EncodeToString(fp[:])}
}

// log writes what was loaded at start.
func (l *loaded) log(log *slog.Logger, cfg Config) {
	log.Info("certificate loaded", certAttrs(cfg.CertFile, l.leaf)...)
	if cfg.TicketKeyFile != "" {
		log.Info("ticket keys loaded", "file", cfg.TicketKeyFile, "keys", len(l.ticketKeyNames), "names", l.ticketKeyNames)
	}
	if cfg.RedisKeyFile != "" {
		log.Info("redis keys loaded", "file", cfg.RedisKeyFile, "keyring", l.redisKeys.String())
	}
}

// Reload reads the certificate and key files, the ticket key file and the
// Redis key file again (osslcache serve does on SIGHUP), each on its own:
// one that does not load leaves what was in force before, and its error is
// logged and returned (joined with the others'). Connections made from now
// on use what loaded; connections already made keep the certificate and
// keys they started with.
func (s *Server) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cur := *s.loaded.Load()
	var errs []error
	done := func(what string, err error, attrs ...any) {
		s.m.reload(what, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
			s.log.Error(what+" reload failed; the previous one stays in force", append(attrs, "err", err)...)
			return
		}
		s.log.Info(what+" reloaded", attrs...)
	}

	certPEM, keyPEM, leaf, err := readCertificate(s.cfg.CertFile, s.cfg.KeyFile)
	if err == nil {
		err = s.ctx.LoadCertificatePEM(certPEM, keyPEM)
		clear(keyPEM)
	}
	if err == nil {
		cur.leaf = leaf
		done("certificate", nil, certAttrs(s.cfg.CertFile, leaf)...)
	} else {
		done("certificate", err, "file", s.cfg.CertFile, "key_file", s.cfg.KeyFile)
	}

	if s.cfg.TicketKeyFile != "" {
		keys, err := ReadTicketKeyFile(s.cfg.TicketKeyFile)
		if err == nil {
			err = s.ctx.SetTicketKeys(keys...)
		}
		if err == nil {
			cur.ticketKeyNames = ticketKeyNames(keys)
			done("ticket keys", nil, "file", s.cfg.TicketKeyFile, "keys", len(keys), "names", cur.ticketKeyNames)
		} else {
			done("ticket keys", err, "file", s.cfg.TicketKeyFile)
		}
		for i := range keys {
			clear(keys[i][:])
		}
	}

	if s.cfg.RedisKeyFile != "" && s.store.redis != nil {
		k, err := ReadKeyFile(s.cfg.RedisKeyFile, s.log)
		if err == nil {
			err = s.store.redis.SetKeys(k)
		}
		if err == nil {
			cur.redisKeys = k
			done("redis keys", nil, "file", s.cfg.RedisKeyFile, "keyring", k.String())
		} else {
			done("redis keys", err, "file", s.cfg.RedisKeyFile)
		}
	}
	s.loaded.Store(&cur)
	return errors.Join(errs...)
}
