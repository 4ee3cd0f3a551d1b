package crypt_test

import (
	"fmt"

	"github.com/heraldhq/herald/internal/store/crypt"
)

func ExampleParseKeys() {
	// Newest first: new values are encrypted with the first key; the
	// second still decrypts what it encrypted. (Make a key with
	// `openssl rand -base64 32`.)
	keys, err := crypt.ParseKeys("AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=,AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(keys.Len(), keys.IDs())

	// Errors name the position of the bad key, never its content.
	_, err = crypt.ParseKeys("AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=,c2hvcnQ=")
	fmt.Println(err)
	// Output:
	// 2 [75877bb4 72cd6e84]
	// key 2 of 2 decodes to 5 bytes, want 32
}
