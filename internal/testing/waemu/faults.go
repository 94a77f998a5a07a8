package waemu

import (
	"fmt"

	"go.mau.fi/whatsmeow/types"
)

// Fail401 unlinks a paired device, as when the user removes it from the
// phone. A connected device gets <stream:error code="401"><conflict
// type="device_removed"/>; otherwise its next login is refused with
// <failure reason="401">. Either way whatsmeow emits events.LoggedOut,
// deletes the device from its store and does not reconnect.
//
// It returns ErrUnknownDevice.
func (s *Server) Fail401(device types.JID) error {
	s.mu.Lock()
	_, ok := s.companions[device]
	if ok {
		s.removeCompanionLocked(device)
	}
	c := s.conns[device]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("fail 401 for %s: %w", device, ErrUnknownDevice)
	}
	if c != nil {
		c.streamError("401", "device_removed")
	}
	return nil
}

// StreamReplaced tells the connected device that another connection took
// its place (<stream:error><conflict type="replaced"/>), and closes the
// socket; whatsmeow emits events.StreamReplaced and does not reconnect.
// The server does the same on its own when a device logs in twice.
//
// It returns ErrNotConnected.
func (s *Server) StreamReplaced(device types.JID) error {
	c, err := s.conn(device)
	if err != nil {
		return err
	}
	c.streamError("", "replaced")
	return nil
}

// DropSocket closes the device's TCP connection without a word, like a
// network failure; whatsmeow emits events.Disconnected and, with
// auto-reconnect on (the default), connects again by itself.
//
// It returns ErrNotConnected.
func (s *Server) DropSocket(device types.JID) error {
	c, err := s.conn(device)
	if err != nil {
		return err
	}
	c.close()
	return nil
}

func (s *Server) conn(device types.JID) (*conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.conns[device]
	if !ok {
		return nil, fmt.Errorf("%s: %w", device, ErrNotConnected)
	}
	return c, nil
}
