package controller

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/outrider-sec/outrider/internal/identity/provenance"
)

// provenanceKeyField is the Secret key holding the Ed25519 private key (PKCS#8 PEM).
const provenanceKeyField = "ed25519.key"

// provenanceSigner signs provenance annotations with the controller's Ed25519 key (docs/identity.md,
// "Provenance"): the identity service holds only the public key, so it can check a claim but
// never make one.
type provenanceSigner struct {
	id  string
	key ed25519.PrivateKey
}

// Sign returns the annotation value binding authorities to pod's namespace, ServiceAccount and
// pinned images.
func (s *provenanceSigner) Sign(pod *corev1.Pod, authorities []string) (string, error) {
	return provenance.Sign(s.key, s.id, pod, authorities)
}

// loadProvenanceKey reads the key from its Secret in namespace, creating it on first start (two
// replicas racing both read the winner's), and publishes the public key in configMap as
// "<key-id>.pub" for the identity service.
func loadProvenanceKey(ctx context.Context, cs kubernetes.Interface, namespace, secret, configMap string) (*provenanceSigner, error) {
	secrets := cs.CoreV1().Secrets(namespace)
	s, err := secrets.Get(ctx, secret, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, gerr
		}
		der, merr := x509.MarshalPKCS8PrivateKey(priv)
		if merr != nil {
			return nil, merr
		}
		s, err = secrets.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: secret, Namespace: namespace},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{provenanceKeyField: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})},
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			s, err = secrets.Get(ctx, secret, metav1.GetOptions{})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("provenance key Secret %s/%s: %w", namespace, secret, err)
	}
	block, _ := pem.Decode(s.Data[provenanceKeyField])
	if block == nil {
		return nil, fmt.Errorf("provenance key Secret %s/%s: no PEM key under %q", namespace, secret, provenanceKeyField)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("provenance key Secret %s/%s: %w", namespace, secret, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("provenance key Secret %s/%s: want an Ed25519 key, not %T", namespace, secret, k)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pubDER)
	signer := &provenanceSigner{id: hex.EncodeToString(sum[:8]), key: priv}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	if err := publishProvenanceKey(ctx, cs, namespace, configMap, signer.id+provenance.KeySuffix, pubPEM); err != nil {
		return nil, err
	}
	return signer, nil
}

// publishProvenanceKey makes configMap hold key=value, keeping its other keys (the public keys
// of earlier signing keys stay trusted until an administrator removes them).
func publishProvenanceKey(ctx context.Context, cs kubernetes.Interface, namespace, configMap, key, value string) error {
	cms := cs.CoreV1().ConfigMaps(namespace)
	for range 3 {
		cm, err := cms.Get(ctx, configMap, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = cms.Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: configMap, Namespace: namespace},
				Data:       map[string]string{key: value},
			}, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			return err
		}
		if err != nil {
			return fmt.Errorf("provenance keys ConfigMap %s/%s: %w", namespace, configMap, err)
		}
		if cm.Data[key] == value {
			return nil
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[key] = value
		if _, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			return err
		}
	}
	return fmt.Errorf("provenance keys ConfigMap %s/%s: kept conflicting", namespace, configMap)
}
