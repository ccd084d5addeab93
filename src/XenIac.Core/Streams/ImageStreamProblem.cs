namespace XenIac.Core.Streams;

/// <summary>The first problem found in an image: what, the absolute byte offset, and the record index (when in a record).</summary>
public sealed record ImageStreamProblem(FormatError Error, string Message, long? Offset, long? RecordIndex)
{
    public override string ToString() =>
        Message + (Offset is { } o ? $" (offset {o}" + (RecordIndex is { } i ? $", record {i})" : ")") : "");
}
