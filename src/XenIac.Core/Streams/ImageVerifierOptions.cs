namespace XenIac.Core.Streams;

public sealed record ImageVerifierOptions
{
    public static ImageVerifierOptions Default { get; } = new();

    /// <summary>
    /// libxc skips optional records it does not know, but Xen's verify-stream-v2 rejects them; false (the default)
    /// keeps to the checker, true accepts what a libxc restore accepts. libxl rejects unknown records either way.
    /// </summary>
    public bool AllowUnknownOptionalRecords { get; init; }

    /// <summary>
    /// The guest type the domain config states, when known: the stream itself cannot tell PVH from HVM.
    /// </summary>
    public GuestType? ConfiguredGuestType { get; init; }
}
