package load

import "github.com/osslcache/osslcache/ossl/ossltest"

// ExchangeAll echoes line through every held connection and half-closes
// it (ossltest.Exchange): each must still be open and served.
func (h *Held) ExchangeAll(line string) error {
	for _, c := range h.conns {
		if err := ossltest.Exchange(c, line); err != nil {
			return err
		}
	}
	return nil
}
