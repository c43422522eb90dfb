package config_test

import (
	"fmt"

	"github.com/goreload/reload/config"
)

// Parse an overlay configuration document (RFC 6940 §11.1) and read its
// settings and the Kinds it requires. Elements left out take the RFC's
// defaults. A node that fetched the document also checks its signature
// with Configuration.VerifySignature and the kind-signatures with
// VerifiedKinds; this example document is unsigned.
func ExampleParse() {
	doc := []byte(`<?xml version="1.0" encoding="UTF-8"?>
<overlay xmlns="urn:ietf:params:xml:ns:p2p:config-base">
  <configuration instance-name="overlay.example.org" sequence="7">
    <topology-plugin>CHORD-RELOAD</topology-plugin>
    <max-message-size>8000</max-message-size>
    <bootstrap-node address="192.0.2.1" port="6084"/>
    <required-kinds>
      <kind-block>
        <kind name="SIP-REGISTRATION">
          <data-model>DICTIONARY</data-model>
          <access-control>USER-NODE-MATCH</access-control>
          <max-count>16</max-count>
          <max-size>4096</max-size>
        </kind>
      </kind-block>
      <kind-block>
        <kind id="4026531841">
          <data-model>ARRAY</data-model>
          <access-control>NODE-MATCH</access-control>
          <max-count>8</max-count>
          <max-size>256</max-size>
        </kind>
      </kind-block>
    </required-kinds>
  </configuration>
</overlay>`)
	d, err := config.Parse(doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := d.Configurations[0]
	fmt.Println(c.InstanceName, "sequence", c.Sequence, c.TopologyPlugin)
	fmt.Println("max-message-size", c.MaxMessageSize, "initial-ttl", c.InitialTTL, "node-id-length", c.NodeIDLength)
	for _, b := range c.BootstrapNodes {
		fmt.Printf("bootstrap %s:%d\n", b.Address, b.Port)
	}
	kinds, err := c.Kinds()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range kinds.IDs() {
		k, _ := kinds.Lookup(id)
		fmt.Printf("kind 0x%x %q %s %s max-count %d max-size %d\n", k.ID, k.Name, k.DataModel, k.AccessControl, k.MaxCount, k.MaxSize)
	}
	// Output:
	// overlay.example.org sequence 7 CHORD-RELOAD
	// max-message-size 8000 initial-ttl 100 node-id-length 16
	// bootstrap 192.0.2.1:6084
	// kind 0x1 "SIP-REGISTRATION" DICTIONARY USER-NODE-MATCH max-count 16 max-size 4096
	// kind 0xf0000001 "" ARRAY NODE-MATCH max-count 8 max-size 256
}
