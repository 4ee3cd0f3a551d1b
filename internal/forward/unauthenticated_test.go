package forward

import (
	"reflect"
	"testing"
)

func TestUnauthenticated(t *testing.T) {
	p := providers["unauthenticated"]
	if p.Verify != nil || p.Handshake != nil {
		t.Fatal("the unauthenticated provider verifies nothing and has no handshake")
	}
	for _, c := range []struct {
		name, body string
		want       Route
	}{
		{"connectionId", `{"type":"order.created","connectionId":"conn-1","data":{"orderId":9007199254740993}}`,
			Route{ConnectionIDs: []string{"conn-1"}, EventType: "order.created"}},
		{"no type", `{"connectionId":"conn-2"}`, Route{ConnectionIDs: []string{"conn-2"}}},
		{"no connectionId", `{"type":"order.created"}`, Route{EventType: "order.created"}},
		{"connectionId not a string", `{"type":"order.created","connectionId":["conn-1"]}`, Route{EventType: "order.created"}},
		{"empty connectionId", `{"type":"order.created","connectionId":""}`, Route{EventType: "order.created"}},
		{"not an object", `["conn-1"]`, Route{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := p.Route(&Request{}, parseJSON(t, []byte(c.body)))
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Route = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestUnauthenticatedSample(t *testing.T) { checkProviderSample(t, "unauthenticated") }
