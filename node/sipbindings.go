package node

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/goreload/reload/usage/sip"
	"go.etcd.io/bbolt"
)

// sipBindings keeps the SIP front end's local bindings in DataDir/sip.db
// (bbolt, one key per AOR holding its bindings as JSON), so that a
// restarted peer still reaches the user agents registered with it.
type sipBindings struct{ db *bbolt.DB }

var bindingsBucket = []byte("bindings")

func openSIPBindings(path string) (*sipBindings, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bindingsBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &sipBindings{db: db}, nil
}

func (s *sipBindings) LoadBindings() ([]sip.Binding, error) {
	var out []sip.Binding
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bindingsBucket).ForEach(func(k, v []byte) error {
			var bs []sip.Binding
			if err := json.Unmarshal(v, &bs); err != nil {
				return errors.Join(errors.New("bindings of "+string(k)), err)
			}
			out = append(out, bs...)
			return nil
		})
	})
	return out, err
}

func (s *sipBindings) SaveBindings(aor string, bs []sip.Binding) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bindingsBucket)
		if len(bs) == 0 {
			return b.Delete([]byte(aor))
		}
		v, err := json.Marshal(bs)
		if err != nil {
			return err
		}
		return b.Put([]byte(aor), v)
	})
}

func (s *sipBindings) Close() error { return s.db.Close() }
