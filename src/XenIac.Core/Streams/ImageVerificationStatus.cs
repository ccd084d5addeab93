namespace XenIac.Core.Streams;

public enum ImageVerificationStatus
{
    Valid,
    Invalid,
    /// <summary>A pre-v2 legacy libxc image: recognised, not checked.</summary>
    NotVerified,
}
