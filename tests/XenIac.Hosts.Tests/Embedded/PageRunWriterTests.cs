using XenIac.Hosts.Embedded;

namespace XenIac.Hosts.Tests.Embedded;

public sealed class PageRunWriterTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    public void Pages_in_any_order_with_gaps_and_rewrites_land_where_one_write_per_page_puts_them(int seed)
    {
        var random = new Random(seed);
        const int pages = 3000; // more than one run's buffer (1024 pages)
        var order = new List<int>();
        for (var start = 0; start < pages;)
        {
            var length = random.Next(1, 1500);
            if (random.Next(4) > 0) order.AddRange(Enumerable.Range(start, Math.Min(length, pages - start)));
            start += length;
        }
        order.AddRange(Enumerable.Range(0, 40).Select(_ => random.Next(pages))); // rewrites, out of order
        var expected = new byte[pages * GuestMemory.PageSize];
        var path = Path.GetTempFileName();
        try
        {
            using (var file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite))
            using (var writer = new PageRunWriter(file))
            {
                var page = new byte[GuestMemory.PageSize];
                foreach (var pfn in order)
                {
                    random.NextBytes(page);
                    page.CopyTo(expected, pfn * GuestMemory.PageSize);
                    writer.Write((ulong)pfn, page);
                }
                writer.Flush();
            }
            var actual = File.ReadAllBytes(path);
            Array.Resize(ref actual, expected.Length);
            Assert.True(expected.AsSpan().SequenceEqual(actual));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
