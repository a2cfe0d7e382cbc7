// Package servingcert keeps the admission webhook's serving certificate: a CA and a short-lived
// leaf for the webhook Service, stored in a Secret so every replica serves the same one,
// renewed before expiry, and published as the caBundle of the webhook configurations. The
// certificate is served from memory through tls.Config.GetCertificate, so rotation needs no
// restart and no kubelet volume sync; a failed renewal keeps serving the old certificate.
package servingcert
