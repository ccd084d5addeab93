namespace XenIac.Core.Streams;

/// <summary>The verifier's verdict: status, what was read, and the first problem when not valid.</summary>
public sealed record ImageVerification(ImageVerificationStatus Status, ImageSummary Summary, ImageStreamProblem? Problem)
{
    public bool IsValid => Status == ImageVerificationStatus.Valid;
}
