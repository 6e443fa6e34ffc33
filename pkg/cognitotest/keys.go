package cognitotest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"math/big"

	"github.com/cognitokit/cognitokit/gen"
)

// signingKey is one RSA-2048 key of a pool, published in its JWKS under KeyID.
type signingKey struct {
	KeyID   string
	Private *rsa.PrivateKey
}

// poolKeys are the two keys Cognito signs a pool's tokens with: access tokens and ID
// tokens carry different key IDs.
type poolKeys struct {
	access, id signingKey
}

func newSigningKey() (signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return signingKey{}, fmt.Errorf("cognitotest: generate RSA key: %w", err)
	}
	// Cognito's key IDs are base64 of 32 random-looking bytes; keep the shape.
	kid := make([]byte, 32)
	_, _ = rand.Read(kid)
	return signingKey{KeyID: base64.StdEncoding.EncodeToString(kid), Private: priv}, nil
}

func newPoolKeys() (poolKeys, error) {
	access, err := newSigningKey()
	if err != nil {
		return poolKeys{}, err
	}
	id, err := newSigningKey()
	if err != nil {
		return poolKeys{}, err
	}
	return poolKeys{access: access, id: id}, nil
}

func (k signingKey) jwk() gen.JWK {
	pub := k.Private.PublicKey
	return gen.JWK{
		Kid: k.KeyID,
		Kty: "RSA",
		Alg: "RS256",
		Use: "sig",
		N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

func (k poolKeys) jwks() gen.JWKS {
	return gen.JWKS{Keys: []gen.JWK{k.access.jwk(), k.id.jwk()}}
}

func (k poolKeys) byID(kid string) (*rsa.PublicKey, bool) {
	switch kid {
	case k.access.KeyID:
		return &k.access.Private.PublicKey, true
	case k.id.KeyID:
		return &k.id.Private.PublicKey, true
	}
	return nil, false
}
