package admission

import (
	"context"
	"errors"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Decider decides one admission request.
type Decider interface {
	Decide(ctx context.Context, req *admissionv1.AdmissionRequest) (*Decision, error)
}

// Handler adapts a Decider to controller-runtime's webhook server and records every decision.
type Handler struct {
	// Webhook names the webhook in logs and metrics ("workloads", "connect", "mutate").
	Webhook string
	Decider Decider
	Trail   *Trail
}

var _ admission.Handler = (*Handler)(nil)

// Handle answers one AdmissionReview. An error (bad input, policies not loaded, a lookup
// failure) becomes an error response, so the webhook's failurePolicy decides what happens.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := time.Now()
	dec, err := h.Decider.Decide(ctx, &req.AdmissionRequest)
	h.Trail.Record(ctx, h.Webhook, &req.AdmissionRequest, dec, err, time.Since(start))
	switch {
	case errors.Is(err, ErrNotReady):
		return admission.Errored(http.StatusServiceUnavailable, err)
	case err != nil:
		return admission.Errored(http.StatusBadRequest, err)
	case !dec.Allowed:
		return admission.Denied(dec.Message).WithWarnings(dec.Warnings...)
	}
	if len(dec.Patches) > 0 {
		return admission.Patched("", dec.Patches...).WithWarnings(dec.Warnings...)
	}
	return admission.Allowed("").WithWarnings(dec.Warnings...)
}
