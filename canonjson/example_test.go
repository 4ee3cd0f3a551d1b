package canonjson_test

import (
	"fmt"

	"github.com/heraldhq/herald/canonjson"
)

func ExampleCanonicalize() {
	body := []byte(`{
		"type": "auth",
		"success": true,
		"10": "ten", "9": "nine",
		"html": "<b>&</b>\u2028",
		"n": [1.0, -0, 1e21, 0.0000001],
		"__proto__": {"dropped": true}
	}`)
	out, err := canonjson.Canonicalize(body)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(out) == "{\"9\":\"nine\",\"10\":\"ten\",\"html\":\"<b>&</b>\u2028\",\"n\":[1,0,1e+21,1e-7],\"success\":true,\"type\":\"auth\"}")
	fmt.Printf("%q\n", out)
	// Output:
	// true
	// "{\"9\":\"nine\",\"10\":\"ten\",\"html\":\"<b>&</b>\u2028\",\"n\":[1,0,1e+21,1e-7],\"success\":true,\"type\":\"auth\"}"
}
